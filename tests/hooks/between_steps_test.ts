/**
 * What changes in the job pod between two steps reaches the runner's `<work>`, driven like the
 * runner, with GNU tools (debian) and with busybox: a step leaves a process running that, once
 * the step's sync is over, writes a file and deletes two (one in `_temp`, where the runner writes
 * every step's script, so the next step's upload rewrites that directory); with GNU find it also
 * changes a file's mode alone and moves in a directory made earlier. A next step that touches
 * nothing brings all of it back, and after cleanup_job (KUBEHOOK_COPY_BACK=changed) none of it is
 * missing.
 */
import assert from "node:assert/strict";
import type { RunnerSim } from "../support/runner_sim.ts";
import { jobContainer } from "../support/runner_sim.ts";
import { assertHookOk, HookCluster } from "./hook_cluster.ts";

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** Step 1: stages a directory outside /__w, then leaves a writer waiting for /tmp/kh-go. */
function leaveWriter(gnu: boolean): string {
  const more = gnu ? ' && chmod 755 mode.txt && mv /tmp/kh-stage/moved "$PWD/moved"' : "";
  return [
    "mkdir -p /tmp/kh-stage/moved && echo inner > /tmp/kh-stage/moved/inner.txt",
    "touch -d @1500000000 /tmp/kh-stage/moved/inner.txt /tmp/kh-stage/moved",
    "( until [ -e /tmp/kh-go ]; do sleep 0.05; done",
    `  echo late > late.txt && rm gone.txt "$RUNNER_TEMP/gone-temp.txt"${more} &&`,
    "  touch /tmp/kh-done ) >/tmp/kh-writer.log 2>&1 &",
  ].join("\n");
}

/** What the window did, as the host must see it. */
async function assertWindowArrived(sim: RunnerSim, gnu: boolean, when: string): Promise<void> {
  assert.equal(await Deno.readTextFile(`${sim.workspace}/late.txt`), "late\n", when);
  assert.equal(await exists(`${sim.workspace}/gone.txt`), false, `gone.txt ${when}`);
  assert.equal(await exists(`${sim.temp}/gone-temp.txt`), false, `_temp/gone-temp.txt ${when}`);
  assert.equal(await Deno.readTextFile(`${sim.workspace}/kept.txt`), "kept.txt\n", when);
  if (!gnu) return;
  assert.equal((await Deno.stat(`${sim.workspace}/mode.txt`)).mode! & 0o777, 0o755, when);
  assert.equal(await Deno.readTextFile(`${sim.workspace}/moved/inner.txt`), "inner\n", when);
}

Deno.test("changes made in the pod between steps reach the runner", async (t) => {
  await using hc = await HookCluster.start();

  for (const image of ["debian:12", "busybox"]) {
    const gnu = image !== "busybox";
    await hc.job(t, `${image}: a process left running by a step`, async ({ sim }) => {
      // Checked out an hour ago: busybox markers are whole seconds set back a second or two.
      const hourAgo = new Date(Date.now() - 3600_000);
      for (const path of ["gone.txt", "kept.txt", "mode.txt", "../../_temp/gone-temp.txt"]) {
        await Deno.writeTextFile(`${sim.workspace}/${path}`, `${path.split("/").pop()}\n`);
        await Deno.utime(`${sim.workspace}/${path}`, hourAgo, hourAgo);
      }
      await Deno.chmod(`${sim.workspace}/mode.txt`, 0o644);
      assertHookOk(
        await sim.prepareJob({ container: jobContainer(image), services: [] }),
        "prepare_job",
      );
      assertHookOk(await sim.scriptStep(leaveWriter(gnu)), "the step leaving a writer");
      // The step's sync is over: the writer works now, between the steps. Then the next second
      // begins: busybox markers are whole seconds set back, so a change in the second before the
      // next step would count as that step's own, window or not.
      const pod = String(sim.state?.jobPod);
      await hc.execInPod(
        pod,
        "touch /tmp/kh-go; i=0; until [ -e /tmp/kh-done ]; do " +
          '[ "$i" -lt 200 ] || { cat /tmp/kh-writer.log >&2; exit 1; }; i=$((i + 1)); sleep 0.05; done; ' +
          's=$(date +%s); until [ "$(date +%s)" -gt "$s" ]; do sleep 0.05; done',
      );
      assert.equal(await exists(`${sim.workspace}/late.txt`), false, "synced outside a step");

      assertHookOk(await sim.scriptStep("true"), "the next step");
      await assertWindowArrived(sim, gnu, "after the next step");
      assertHookOk(await sim.cleanupJob(), "cleanup_job");
      await assertWindowArrived(sim, gnu, "after cleanup_job");
    });
  }
});
