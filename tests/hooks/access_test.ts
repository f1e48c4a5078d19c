/**
 * Kubernetes access as the hooks meet it: a service account without `pods/exec` gets an
 * explanation with the Role rule to add, and API errors a busy control plane returns (429 with
 * Retry-After, 503) are retried so the job still succeeds.
 */
import assert from "node:assert/strict";
import { jobContainer } from "../support/runner_sim.ts";
import { assertHookFailed, assertHookOk, HookCluster } from "./hook_cluster.ts";

/** The pod collection, and one pod (never its exec subresource: that is not a plain API call). */
const POD_LIST = "^/api/v1/namespaces/default/pods$";
const ONE_POD = "^/api/v1/namespaces/default/pods/[^/]+$";
const POD_OR_LIST = "^/api/v1/namespaces/default/pods(/[^/]+)?$";

Deno.test("Kubernetes access: permissions and API errors", async (t) => {
  await using hc = await HookCluster.start();

  await hc.job(
    t,
    "without pods/exec, prepare_job explains the missing Role rule",
    async ({ sim }) => {
      const prepared = await sim.prepareJob({
        container: jobContainer("debian:12"),
        services: [],
      });
      const log = assertHookFailed(prepared, "prepare_job");
      assert.match(log, /pods\/exec/, `the missing permission is not named:\n${log}`);
      assert.match(log, /Role/, `no Role rule is shown:\n${log}`);
      assert.match(log, /resources:.*pods\/exec/, `no Role rule is shown:\n${log}`);
      assert.match(log, /verbs:.*create/, `the rule lacks the verb:\n${log}`);
      assertHookOk(await sim.cleanupJob(), "cleanup_job with the same permissions");
    },
    { KUBEHOOK_CONTEXT: "restricted" },
  );

  await hc.job(t, "API 429 and 503 are retried and the job succeeds", async ({ sim }) => {
    await hc.cluster.addFaults([
      { kind: "api-error", status: 429, count: 1, method: "POST", path: POD_LIST },
      { kind: "api-error", status: 503, count: 2, method: "GET", path: POD_OR_LIST },
    ]);
    assertHookOk(
      await sim.prepareJob({ container: jobContainer("debian:12"), services: [] }),
      "prepare_job",
    );
    assert.deepEqual(await hc.faultsLeft(), [], "prepare_job never met the injected errors");

    const step = await sim.scriptStep("echo step ran\n");
    assertHookOk(step, "the step");
    assert.match(step.stdout, /^step ran$/m);

    await hc.cluster.addFaults([
      { kind: "api-error", status: 503, count: 1, method: "DELETE", path: ONE_POD },
      { kind: "api-error", status: 429, count: 1, method: "GET", path: POD_LIST },
    ]);
    assertHookOk(await sim.cleanupJob(), "cleanup_job");
    assert.deepEqual(await hc.faultsLeft(), [], "cleanup_job never met the injected errors");
  });
});
