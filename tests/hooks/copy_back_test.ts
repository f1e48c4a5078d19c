/**
 * What cleanup_job brings back from the job pod (KUBEHOOK_COPY_BACK), with and without gzip
 * (KUBEHOOK_TRANSFER_COMPRESSION): `changed` brings what changed since the last step's sync,
 * `all` the whole of /__w, `none` nothing. A change made in the pod after the last step (a
 * background process, here an exec by the admin) is what only cleanup can bring; a deletion too.
 */
import assert from "node:assert/strict";
import type { RunnerSim } from "../support/runner_sim.ts";
import { jobContainer } from "../support/runner_sim.ts";
import { assertHookOk, HookCluster } from "./hook_cluster.ts";

/** Runs a job whose step writes `by-step.txt`; then, in the pod only, writes `late.txt` and
 * deletes `by-step.txt`, and removes the host's copy of the untouched `untouched.txt`; then
 * cleans up. */
async function jobWithLateChange(hc: HookCluster, sim: RunnerSim): Promise<void> {
  await Deno.writeTextFile(`${sim.workspace}/untouched.txt`, "from the runner\n");
  // Checked out a while ago: busybox find compares mtimes with whole-second markers stamped a
  // second or two early, so a file written just before a step may come back once (never missed).
  const hourAgo = new Date(Date.now() - 3600_000);
  await Deno.utime(`${sim.workspace}/untouched.txt`, hourAgo, hourAgo);
  assertHookOk(
    await sim.prepareJob({ container: jobContainer("busybox"), services: [] }),
    "prepare_job",
  );
  assertHookOk(await sim.scriptStep("echo step > by-step.txt"), "the step");
  assert.equal(await Deno.readTextFile(`${sim.workspace}/by-step.txt`), "step\n");
  await hc.execInPod(
    String(sim.state?.jobPod),
    `echo late > ${sim.containerWorkspace}/late.txt && rm ${sim.containerWorkspace}/by-step.txt`,
  );
  await Deno.remove(`${sim.workspace}/untouched.txt`);
  assertHookOk(await sim.cleanupJob(), "cleanup_job");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("cleanup_job copies back per KUBEHOOK_COPY_BACK", async (t) => {
  await using hc = await HookCluster.start();

  await hc.job(
    t,
    "changed (default), gzip: only what changed after the last step",
    async ({ sim }) => {
      await jobWithLateChange(hc, sim);
      assert.equal(await Deno.readTextFile(`${sim.workspace}/late.txt`), "late\n");
      assert.equal(await exists(`${sim.workspace}/untouched.txt`), false, "unchanged files stay");
      assert.equal(await exists(`${sim.workspace}/by-step.txt`), false, "the deletion came back");
    },
    { KUBEHOOK_TRANSFER_COMPRESSION: "gzip" },
  );

  await hc.job(t, "all: the whole workspace", async ({ sim }) => {
    await jobWithLateChange(hc, sim);
    assert.equal(await Deno.readTextFile(`${sim.workspace}/late.txt`), "late\n");
    assert.equal(await Deno.readTextFile(`${sim.workspace}/untouched.txt`), "from the runner\n");
    assert.equal(await exists(`${sim.workspace}/by-step.txt`), false, "the deletion came back");
  }, { KUBEHOOK_COPY_BACK: "all" });

  await hc.job(
    t,
    "none: nothing at cleanup (steps still sync their own changes)",
    async ({ sim }) => {
      await jobWithLateChange(hc, sim);
      assert.equal(await exists(`${sim.workspace}/late.txt`), false);
      assert.equal(await exists(`${sim.workspace}/untouched.txt`), false);
      assert.equal(await Deno.readTextFile(`${sim.workspace}/by-step.txt`), "step\n");
    },
    { KUBEHOOK_COPY_BACK: "none" },
  );
});
