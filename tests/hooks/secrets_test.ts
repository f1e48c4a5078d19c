/**
 * A step's secrets never outlive it: when preparing its upload fails half-way on the runner (here
 * the host's `find` fails while listing the runner's changes), the environment file that holds its
 * secret values is removed with the failure, and no line of the hook's output carries them; in the
 * pod, a step that cannot start (its working directory is missing) removes its environment file too.
 */
import assert from "node:assert/strict";
import { jobContainer } from "../support/runner_sim.ts";
import { assertHookFailed, assertHookOk, HookCluster, logOf } from "./hook_cluster.ts";

const SECRET = "hunter2-do-not-leak";

/** Every file under `dir` whose content holds `needle`. */
async function filesHolding(dir: string, needle: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...await filesHolding(path, needle));
    else if (entry.isFile && (await Deno.readTextFile(path).catch(() => "")).includes(needle)) {
      found.push(path);
    }
  }
  return found;
}

Deno.test("a step's secrets never outlive it, on the runner or in the pod", async (t) => {
  await using hc = await HookCluster.start();
  const fakeBin = await Deno.makeTempDir({ prefix: "kubehook-fake-find-" });
  // Fails only when listing what changed since the last sync; every other find is the real one.
  await Deno.writeTextFile(
    `${fakeBin}/find`,
    '#!/bin/sh\nfor a in "$@"; do [ "$a" = -newerct ] && { echo "find: simulated failure" >&2; exit 1; }; done\n' +
      'exec /usr/bin/find "$@"\n',
  );
  await Deno.chmod(`${fakeBin}/find`, 0o755);
  try {
    await hc.job(
      t,
      "the listing fails: the step fails and its env file is gone",
      async ({ sim }) => {
        assertHookOk(
          await sim.prepareJob({ container: jobContainer("busybox:1.36"), services: [] }),
          "prepare_job",
        );
        const step = await sim.scriptStep("echo never runs", { env: { TOKEN: SECRET } });
        assert.match(assertHookFailed(step, "the step"), /simulated failure/);
        assert.deepEqual(await filesHolding(sim.work, SECRET), [], "a file still holds the secret");
        assert.ok(!logOf(step).includes(SECRET), "the hook printed the secret");
        assertHookOk(await sim.cleanupJob(), "cleanup_job");
      },
      { PATH: `${fakeBin}:${Deno.env.get("PATH")}` },
    );
  } finally {
    await Deno.remove(fakeBin, { recursive: true });
  }

  await hc.job(
    t,
    "a step that cannot start leaves no env file in the pod",
    async ({ sim, runnerPod }) => {
      assertHookOk(
        await sim.prepareJob({ container: jobContainer("busybox:1.36"), services: [] }),
        "prepare_job",
      );
      const step = await sim.scriptStep("echo never runs", {
        env: { TOKEN: SECRET },
        workingDirectory: "/__w/no/such/dir",
      });
      assert.match(
        assertHookFailed(step, "the step"),
        /working directory \/__w\/no\/such\/dir does not exist/,
      );
      const holding = await hc.execInPod(
        `${runnerPod}-workflow`,
        `grep -rl '${SECRET}' /__w 2>/dev/null; true`,
      );
      assert.equal(holding.trim(), "", "a file in the pod still holds the secret");
      assertHookOk(await sim.cleanupJob(), "cleanup_job");
    },
  );
});
