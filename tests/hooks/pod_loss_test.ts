/**
 * When the job pod cannot run or stops running: an unschedulable pod waits, saying why at once
 * (with what a node autoscaler said about it), runs as soon as a node fits, and otherwise fails at
 * ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS with the scheduler's reason; a pod evicted during a
 * step fails the step with the eviction's reason instead of hanging or retrying.
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { jobPodName } from "../../src/pod/names.ts";
import { jobContainer } from "../support/runner_sim.ts";
import { commandPod } from "../support/pods.ts";
import { assertHookFailed, assertHookOk, HookCluster, NAMESPACE } from "./hook_cluster.ts";

const real = Deno.env.get("KUBEHOOK_TEST_CLUSTER") === "real";

Deno.test("the job pod cannot run, or stops running", async (t) => {
  await using hc = await HookCluster.start();

  await hc.job(t, "an unschedulable pod fails at the timeout with the reason", async ({ sim }) => {
    await hc.cluster.addFaults({ kind: "unschedulable", count: 1 });
    const log = assertHookFailed(
      await sim.prepareJob({ container: jobContainer("busybox"), services: [] }),
      "prepare_job",
    );
    assert.match(log, /did not start within 2 s: not scheduled yet: .*unschedulable/);
    assert.match(log, /ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS/);
    assertHookOk(await sim.cleanupJob(), "cleanup_job");
  }, { ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS: "2" });

  await hc.job(
    t,
    "a pod no node fits yet says why at once, with the autoscaler's word, and runs once one does",
    async ({ sim, runnerPod }) => {
      const api = (method: string, path: string, body?: unknown) =>
        hc.api<V1Pod>(method, `/api/v1/namespaces/${NAMESPACE}/${path}`, body);
      // The node's one host port 18080 is held: the job pod, asking for it too, fits no node.
      const blocker = commandPod("port-holder", ["sleep", "600"]);
      blocker.spec!.containers[0].ports = [{ containerPort: 80, hostPort: 18080 }];
      blocker.spec!.terminationGracePeriodSeconds = 0;
      await api("POST", "pods", blocker);
      for (let phase = ""; phase !== "Running";) {
        phase = (await api("GET", "pods/port-holder")).status?.phase ?? "";
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // What cluster-autoscaler records about a pod it adds a node for.
      const jobPod = jobPodName(runnerPod);
      await api("POST", "events", {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: `${jobPod}.scale-up` },
        involvedObject: { kind: "Pod", namespace: NAMESPACE, name: jobPod },
        reason: "TriggeredScaleUp",
        message: "pod triggered scale-up: [{pool-a 1->2 (max: 3)}]",
        type: "Normal",
        source: { component: "cluster-autoscaler" },
        lastTimestamp: new Date().toISOString(),
      });
      try {
        const run = sim.start("prepare_job", {
          container: jobContainer("busybox", { portMappings: ["18080:80"] }),
          services: [],
        });
        await run.hook.waitForOutput(
          new RegExp(
            `Still waiting for pod "${jobPod}": waiting for a node: an autoscaler is adding one ` +
              String
                .raw`\(TriggeredScaleUp: pod triggered scale-up: \[\{pool-a 1->2 \(max: 3\)\}\]\); ` +
              "not scheduled yet: .*free ports",
          ),
        );
        await api("DELETE", "pods/port-holder?gracePeriodSeconds=0");
        assertHookOk(await run.result, "prepare_job");
        assertHookOk(await sim.cleanupJob(), "cleanup_job");
      } finally {
        await api("DELETE", "pods/port-holder?gracePeriodSeconds=0").catch(() => {});
        await api("DELETE", `events/${jobPod}.scale-up`);
      }
    },
    // Without the report at once, the hook would only fail here at the timeout.
    { ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS: "60" },
  );

  // The embedded cluster refuses a pod for good (tests/realcluster/unschedulable.ts): a node
  // cordoned and then uncordoned is the real tier's.
  if (real) {
    await hc.job(
      t,
      "a job pod on a cordoned node waits, and runs once the node is uncordoned",
      async ({ sim, runnerPod }) => {
        await hc.cluster.addFaults({ kind: "unschedulable", count: 1 });
        const run = sim.start("prepare_job", { container: jobContainer("busybox"), services: [] });
        await run.hook.waitForOutput(
          new RegExp(`Still waiting for pod "${jobPodName(runnerPod)}": not scheduled yet: .*`),
        );
        await hc.cluster.clearFaults();
        assertHookOk(await run.result, "prepare_job");
        assertHookOk(await sim.cleanupJob(), "cleanup_job");
      },
    );
  }

  await hc.job(t, "an eviction during a step fails the step, naming it", async ({ sim }) => {
    assertHookOk(
      await sim.prepareJob({ container: jobContainer("busybox"), services: [] }),
      "prepare_job",
    );
    const run = await sim.startScriptStep("echo started\nsleep 600\n");
    await run.hook.waitForOutput("started");
    await hc.cluster.addFaults({ kind: "evict", pod: String(sim.state?.jobPod) });
    const log = assertHookFailed(await run.result, "the step");
    assert.match(log, /was evicted while the step ran \((Evicted|EvictionByEvictionAPI): /);
    assertHookOk(await sim.cleanupJob(), "cleanup_job");
  });
});
