/**
 * When the job pod cannot run or stops running: an unschedulable pod waits, saying why, until
 * ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS and then fails with the scheduler's reason; a pod
 * evicted during a step fails the step with the eviction's reason instead of hanging or retrying.
 */
import assert from "node:assert/strict";
import { jobContainer } from "../support/runner_sim.ts";
import { assertHookFailed, assertHookOk, HookCluster } from "./hook_cluster.ts";

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
