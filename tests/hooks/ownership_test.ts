/**
 * Who owns the workspace in the job pod. With the shipped `templates/restricted.yaml` (runAsUser
 * 1001, fsGroup 1001, all capabilities dropped) the whole job works as that user: the copy in
 * extracts as 1001, the step writes the workspace, its changes come back. When the container's
 * user cannot write part of `/__w` (here a tool-cache claim mounted at `/__w/_tool`, owned by
 * root, no fsGroup), prepare_job fails with the path, the cause and the securityContext fix,
 * and leaves nothing behind.
 */
import assert from "node:assert/strict";
import { jobContainer } from "../support/runner_sim.ts";
import { assertHookFailed, assertHookOk, HookCluster, NAMESPACE } from "./hook_cluster.ts";

const RESTRICTED = new URL("../../templates/restricted.yaml", import.meta.url).pathname;

Deno.test("the job container's user owns the workspace, or is told how to", async (t) => {
  await using hc = await HookCluster.start();
  const scratch = await Deno.makeTempDir({ prefix: "kubehook-ownership-" });
  try {
    await hc.job(
      t,
      "runAsUser 1001 with fsGroup: copy in, step writes, changes come back",
      async ({ sim }) => {
        await Deno.writeTextFile(`${sim.workspace}/checked-out.txt`, "from the runner\n");
        await Deno.chmod(`${sim.workspace}/checked-out.txt`, 0o644);
        assertHookOk(
          await sim.prepareJob({ container: jobContainer("debian"), services: [] }),
          "prepare_job",
        );
        const step = await sim.scriptStep(
          "id -u; stat -c %u checked-out.txt; echo more >> checked-out.txt; echo new > made.txt",
        );
        assertHookOk(step, "the step");
        assert.match(
          step.stdout,
          /^1001\n1001\n/m,
          "the step and the copied files are user 1001's",
        );
        assert.equal(
          await Deno.readTextFile(`${sim.workspace}/checked-out.txt`),
          "from the runner\nmore\n",
        );
        assert.equal(await Deno.readTextFile(`${sim.workspace}/made.txt`), "new\n");
        // The runner writes each step's script into _temp: the next upload carries _temp's changes.
        assertHookOk(await sim.scriptStep("echo again >> made.txt"), "the second step");
        assert.equal(await Deno.readTextFile(`${sim.workspace}/made.txt`), "new\nagain\n");
        assertHookOk(await sim.cleanupJob(), "cleanup_job");
      },
      { ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE: RESTRICTED },
    );

    const template = `${scratch}/tool-cache.yaml`;
    await Deno.writeTextFile(
      template,
      [
        "spec:",
        "  securityContext: { runAsUser: 1001, runAsGroup: 1001 }",
        "  containers:",
        "    - name: $job",
        "      volumeMounts: [{ name: tools, mountPath: /__w/_tool }]",
        "  volumes:",
        "    - { name: tools, persistentVolumeClaim: { claimName: tools } }",
      ].join("\n"),
    );
    const claim = await hc.cluster.fetch(`/api/v1/namespaces/${NAMESPACE}/persistentvolumeclaims`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: "tools" },
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
      }),
    });
    assert.equal(claim.status, 201, await claim.text());

    await hc.job(
      t,
      "a root-owned mount under /__w: the error names it and the fix",
      async ({ sim }) => {
        await Deno.mkdir(`${sim.work}/_tool/node/20.1.0`, { recursive: true });
        await Deno.writeTextFile(`${sim.work}/_tool/node/20.1.0/node`, "#!/bin/sh\n");
        const log = assertHookFailed(
          await sim.prepareJob({ container: jobContainer("debian"), services: [] }),
          "prepare_job",
        );
        assert.match(log, /Could not copy .* to \/__w in container "job" of pod/);
        assert.match(log, /_tool/, `the offending path is not named:\n${log}`);
        assert.match(log, /[Pp]ermission denied/);
        assert.match(log, /fsGroup \(or runAsUser\)/, `the fix is not given:\n${log}`);
        // The runner calls cleanup_job after a failed prepare_job; it must find nothing to do.
        assertHookOk(await sim.cleanupJob(), "cleanup_job");
      },
      { ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE: template },
    );
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});
