/**
 * When the runner's own tar fails half-way through an archive (a file it cannot read: an I/O
 * error), the pod sees only a cut archive and complains about that; the user must hear the real
 * cause — tar's message on the runner — in prepare_job's copy, a script step's upload and a
 * container step's upload alike, with the step not run and nothing left after cleanup. A `tar`
 * earlier on the runner's PATH stands in for the failing disk: it cuts the real archive short and
 * says what GNU tar says, while a flag file exists.
 */
import assert from "node:assert/strict";
import { containerOf } from "../../src/runner/input.ts";
import { jobContainer, runnerArgs } from "../support/runner_sim.ts";
import { assertHookFailed, assertHookOk, HookCluster } from "./hook_cluster.ts";

const READ_ERROR = "tar: ./big: Read error at byte 0, while reading 512 bytes: Input/output error";

Deno.test("the runner's tar fails half-way: its own error is the cause", async (t) => {
  await using hc = await HookCluster.start();
  const fakeBin = await Deno.makeTempDir({ prefix: "kubehook-fake-tar-" });
  const flag = `${fakeBin}/fail`;
  await Deno.writeTextFile(
    `${fakeBin}/tar`,
    `#!/bin/bash
if [[ -e ${flag} && " $* " == *" --create "* ]]; then
  /usr/bin/tar "$@" | head -c 20000
  echo "${READ_ERROR}" >&2
  exit 2
fi
exec /usr/bin/tar "$@"
`,
  );
  await Deno.chmod(`${fakeBin}/tar`, 0o755);
  const failing = (on: boolean) => on ? Deno.writeTextFile(flag, "") : Deno.remove(flag);
  const env = { PATH: `${fakeBin}:${Deno.env.get("PATH")}` };
  const big = new Uint8Array(300_000).fill(65);
  try {
    await hc.job(t, "prepare_job's copy", async ({ sim }) => {
      await Deno.writeFile(`${sim.workspace}/big`, big);
      await failing(true);
      try {
        const log = assertHookFailed(
          await sim.prepareJob({ container: jobContainer("busybox:1.36"), services: [] }),
          "prepare_job",
        );
        assert.match(log, /Cannot pack .* tar exited with code 2: .*Input\/output error/);
        assert.doesNotMatch(log, /Uncaught/, "the failure crashed the hook");
      } finally {
        await failing(false);
      }
      assertHookOk(await sim.cleanupJob(), "cleanup_job");
    }, env);

    await hc.job(t, "a script step's and a container step's upload", async ({ sim }) => {
      assertHookOk(
        await sim.prepareJob({ container: jobContainer("busybox:1.36"), services: [] }),
        "prepare_job",
      );
      await Deno.writeFile(`${sim.workspace}/big`, big);
      await failing(true);
      try {
        const script = assertHookFailed(await sim.scriptStep("echo ran >> ran"), "the step");
        assert.match(script, /could not send the step's files: Cannot pack .*Input\/output error/);
        const container = assertHookFailed(
          await sim.containerStep(containerOf("busybox:1.36", {
            entryPoint: "sh",
            entryPointArgs: runnerArgs(["-c", "echo ran >> ran"]),
          })),
          "the container step",
        );
        assert.match(container, /could not send the runner's changes .*Input\/output error/);
      } finally {
        await failing(false);
      }
      assert.equal(
        await Deno.readTextFile(`${sim.workspace}/ran`).catch(() => ""),
        "",
        "a step ran without its files",
      );
      assertHookOk(await sim.cleanupJob(), "cleanup_job");
    }, env);
  } finally {
    await Deno.remove(fakeBin, { recursive: true });
  }
});
