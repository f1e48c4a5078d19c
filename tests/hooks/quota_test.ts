/**
 * A job in a namespace whose ResourceQuota is used up waits for room, saying which quota holds it
 * up, and runs once another pod ends; a cancel while it waits ends it and removes what it made;
 * one that never gets room fails at the prepare timeout with the quota's message and leaves
 * nothing. Real Kubernetes only: the local cluster has no quotas.
 */
import assert from "node:assert/strict";
import { jobContainer } from "../support/runner_sim.ts";
import { assertHookFailed, assertHookOk, HookCluster, logOf } from "./hook_cluster.ts";

const real = Deno.env.get("KUBEHOOK_TEST_CLUSTER") === "real";
const PODS = "/api/v1/namespaces/default/pods";
const QUOTA = "/api/v1/namespaces/default/resourcequotas";

Deno.test({
  name: "a used-up ResourceQuota: the job waits for room, or fails at the timeout saying so",
  ignore: !real,
  fn: async (t) => {
    await using hc = await HookCluster.start();
    const send = (path: string, method: string, body?: unknown) =>
      hc.api<{ status?: { hard?: { pods?: string } } }>(method, path, body);
    await send(QUOTA, "POST", {
      metadata: { name: "one-pod" },
      spec: { hard: { pods: "1" } },
    });
    // Admission counts from the quota's status, which the quota controller fills in.
    for (let i = 0; i < 300; i++) {
      if ((await send(`${QUOTA}/one-pod`, "GET")).status?.hard?.pods) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const blocker = () =>
      send(PODS, "POST", {
        metadata: { name: "blocker" },
        spec: {
          containers: [{ name: "c", image: "busybox:1.36", command: ["sleep", "600"] }],
          terminationGracePeriodSeconds: 0,
        },
      });
    const unblock = () => send(`${PODS}/blocker?gracePeriodSeconds=0`, "DELETE");
    try {
      await hc.job(t, "waits while the quota is used up, then runs", async ({ sim }) => {
        await blocker();
        const run = sim.start("prepare_job", {
          container: jobContainer("busybox:1.36"),
          services: [],
        });
        await run.hook.waitForOutput(
          /Waiting for room in a ResourceQuota of namespace "default" to create the job pod/,
        );
        await unblock();
        const prepared = await run.result;
        assertHookOk(prepared, "prepare_job");
        assert.match(logOf(prepared), /exceeded quota: one-pod, requested: pods=1/);
        assertHookOk(await sim.cleanupJob(), "cleanup_job");
      });
      await hc.job(
        t,
        "a cancel while waiting for room exits at once and deletes what was made",
        async ({ sim, runnerPod }) => {
          await blocker();
          try {
            // Private image credentials: a pull secret is created before the pod is refused.
            const run = sim.start("prepare_job", {
              container: jobContainer("busybox:1.36", {
                registry: { username: "robot", password: "s3cret", serverUrl: "registry.local" },
              }),
              services: [],
            });
            await run.hook.waitForOutput(/Waiting for room in a ResourceQuota/);
            assert.equal((await hc.labelled("secrets", runnerPod)).length, 1, "the pull secret");
            run.hook.signal("SIGINT");
            const prepared = await run.result;
            assert.notEqual(prepared.code, 0, "a cancelled prepare_job must not succeed");
            assert.deepEqual(
              await hc.labelled("secrets", runnerPod),
              [],
              "the pull secret is gone",
            );
          } finally {
            await unblock();
          }
        },
      );
      await hc.job(
        t,
        "no room until the timeout: the quota's message, nothing left",
        async ({ sim }) => {
          await blocker();
          try {
            const prepared = await sim.prepareJob({
              container: jobContainer("busybox:1.36"),
              services: [],
            });
            assert.match(
              assertHookFailed(prepared, "prepare_job"),
              /the job pod "[^"]+" was refused by a ResourceQuota of namespace "default" for \d+ s, until the prepare timeout: .*exceeded quota: one-pod/,
            );
          } finally {
            await unblock();
          }
        },
        { ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS: "6" },
      );
    } finally {
      await send(`${QUOTA}/one-pod`, "DELETE");
    }
  },
});
