/**
 * Service logs reach the job log as docker mode shows them: at cleanup_job for every service, and
 * when prepare_job fails because of one, in a group of their own, with workflow-command lookalikes
 * printed between `::stop-commands::` markers rather than acted on.
 */
import assert from "node:assert/strict";
import { serviceContainer } from "../support/runner_sim.ts";
import { jobContainer } from "../support/runner_sim.ts";
import { assertHookFailed, assertHookOk, HookCluster, logOf } from "./hook_cluster.ts";

/** The service's log, as printed: between the group's start and end, inside the markers. */
function serviceLog(log: string, service: string): string | undefined {
  const group = new RegExp(
    `::group::Service ${service} logs\\n::stop-commands::([0-9a-f]{32})\\n([\\s\\S]*?)\\n::\\1::\\n::endgroup::`,
  ).exec(log);
  return group?.[2];
}

const chatty = (options = "") =>
  serviceContainer("busybox:1.36", {
    entryPoint: "sh",
    entryPointArgs: [
      "-c",
      "echo 'db: starting'; echo '::error::not a command of the workflow'; echo 'db: init failed' >&2; exec sleep 600",
    ],
    createOptions: options,
  });

Deno.test("service logs in the job log", async (t) => {
  await using hc = await HookCluster.start();

  await hc.job(t, "cleanup_job shows each service's log, commands inert", async ({ sim }) => {
    assertHookOk(
      await sim.prepareJob({ container: jobContainer("busybox:1.36"), services: [chatty()] }),
      "prepare_job",
    );
    const cleanup = await sim.cleanupJob();
    assertHookOk(cleanup, "cleanup_job");
    const shown = serviceLog(cleanup.stdout, "busybox");
    assert.ok(shown !== undefined, `no service log group:\n${logOf(cleanup)}`);
    assert.match(shown, /^db: starting$/m);
    assert.match(shown, /^::error::not a command of the workflow$/m);
    assert.match(shown, /^db: init failed$/m);
  });

  await hc.job(
    t,
    "a service that never becomes healthy: its log in prepare_job's",
    async ({ sim }) => {
      const prepared = await sim.prepareJob({
        container: jobContainer("busybox:1.36"),
        services: [
          chatty("--health-cmd false --health-interval 1s --health-timeout 1s --health-retries 2"),
        ],
      });
      const log = assertHookFailed(prepared, "prepare_job");
      assert.match(log, /Service busybox did not become healthy/);
      assert.match(serviceLog(prepared.stdout, "busybox") ?? "", /^db: init failed$/m);
      // After the "Preparing job pod" group, not inside it: the runner's groups do not nest.
      assert.match(prepared.stdout, /::endgroup::\n::group::Service busybox logs/);
    },
  );
});
