/**
 * Hardened namespaces: with KUBEHOOK_POD_SECURITY=restricted a whole job (job container, service,
 * script and container steps, cleanup) runs under the Pod Security standard "restricted" — on
 * real Kubernetes in a namespace that enforces it, on the local cluster with the same non-root
 * user and dropped capabilities; and where kubehook was not told (its credentials cannot read the
 * namespace's label), the refusal lists each control and says what to set.
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { containerOf } from "../../src/runner/input.ts";
import { jobContainer, runnerArgs, serviceContainer } from "../support/runner_sim.ts";
import { assertHookFailed, assertHookOk, HookCluster, logOf } from "./hook_cluster.ts";

const real = Deno.env.get("KUBEHOOK_TEST_CLUSTER") === "real";

Deno.test("Pod Security restricted", async (t) => {
  await using hc = await HookCluster.start();
  const label = async (value: string | null) => {
    const response = await hc.cluster.fetch("/api/v1/namespaces/default", {
      method: "PATCH",
      headers: { "content-type": "application/merge-patch+json" },
      body: JSON.stringify({
        metadata: { labels: { "pod-security.kubernetes.io/enforce": value } },
      }),
    });
    assert.ok(response.ok, `labelling the namespace: ${response.status} ${await response.text()}`);
  };
  if (real) await label("restricted");
  try {
    await hc.job(
      t,
      "a whole job, non-root and without capabilities",
      async ({ sim, runnerPod }) => {
        const prepared = await sim.prepareJob({
          container: jobContainer("busybox:1.36"),
          services: [serviceContainer("busybox:1.36", {
            entryPoint: "sh",
            entryPointArgs: ["-c", "exec sleep 600"],
          })],
        });
        assertHookOk(prepared, "prepare_job");
        assert.match(logOf(prepared), /Pods are made for the Pod Security standard "restricted"/);
        const [pod] = await hc.labelled<V1Pod>("pods", runnerPod);
        assert.equal(pod.spec?.securityContext?.runAsNonRoot, true);
        const step = await sim.scriptStep(
          "id -u; grep CapEff /proc/self/status; echo made > made.txt",
        );
        assertHookOk(step, "the script step");
        assert.match(step.stdout, /^1001$/m);
        assert.match(step.stdout, /^CapEff:\s+0000000000000000$/m);
        assert.equal(await Deno.readTextFile(`${sim.workspace}/made.txt`), "made\n");
        const action = await sim.containerStep(containerOf("busybox:1.36", {
          entryPoint: "sh",
          entryPointArgs: runnerArgs(["-c", "id -u; cat made.txt; echo again >> made.txt"]),
        }));
        assertHookOk(action, "the container step");
        assert.match(action.stdout, /^1001\nmade$/m);
        assert.equal(await Deno.readTextFile(`${sim.workspace}/made.txt`), "made\nagain\n");
        assertHookOk(await sim.cleanupJob(), "cleanup_job");
      },
      { KUBEHOOK_POD_SECURITY: "restricted" },
    );

    await hc.job(t, "templates/restricted.yaml is admitted as it is", async ({ sim }) => {
      assertHookOk(
        await sim.prepareJob({ container: jobContainer("busybox:1.36"), services: [] }),
        "prepare_job",
      );
      const step = await sim.scriptStep("id -u; touch written");
      assertHookOk(step, "the script step");
      assert.match(step.stdout, /^1001$/m);
      assertHookOk(await sim.cleanupJob(), "cleanup_job");
    }, {
      KUBEHOOK_POD_SECURITY: "restricted",
      ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE:
        new URL("../../templates/restricted.yaml", import.meta.url)
          .pathname,
    });

    if (!real) return;
    await hc.job(
      t,
      "not told, it cannot tell: the refusal names each control and the setting",
      async ({ sim }) => {
        const prepared = await sim.prepareJob({
          container: jobContainer("busybox:1.36"),
          services: [],
        });
        const log = assertHookFailed(prepared, "prepare_job");
        assert.match(
          log,
          /The namespace enforces the Pod Security standard "restricted", and the pod fails \d+ controls:/,
        );
        assert.match(log, /- runAsNonRoot != true/);
        assert.match(log, /Set KUBEHOOK_POD_SECURITY=restricted/);
      },
    );
  } finally {
    if (real) await label(null);
  }
});
