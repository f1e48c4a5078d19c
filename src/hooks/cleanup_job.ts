/**
 * cleanup_job: shows the services' logs, brings back what changed in the job pod since the last
 * sync (KUBEHOOK_COPY_BACK), then removes every pod and secret kubehook created for this runner
 * pod. It runs also when
 * prepare_job failed, so it selects by label and succeeds when there is nothing to clean.
 *
 * @module
 */
import type { Invocation } from "../runner/input.ts";
import { workLayout } from "../runner/layout.ts";
import { endGroup, group, warning } from "../runner/workflow_commands.ts";
import { connect, type HookContext, jobState } from "./context.ts";
import { deleteJobObjects } from "./job_objects.ts";
import { readServiceLogs, showServiceLogs } from "./service_logs.ts";
import { bringWorkspaceBack } from "./workspace.ts";

type CleanupJob = Invocation & { command: "cleanup_job" };

/** Runs cleanup_job; resolves with the hook's exit code. */
export async function cleanupJob(invocation: CleanupJob, context: HookContext): Promise<number> {
  using connection = await connect(context);
  const { client, namespace, settings } = connection;
  const state = invocation.state?.jobPod ? jobState(invocation.state, "cleanup_job") : undefined;
  // Before anything goes: docker mode shows a job's service logs when it stops the services.
  if (state?.services?.length) {
    const target = { namespace: state.namespace, pod: state.jobPod };
    showServiceLogs(await readServiceLogs(client, target, state.services));
  }
  if (state && settings.copyBack !== "none") {
    if (state.hasJobContainer) {
      try {
        await bringWorkspaceBack(connection, state, workLayout(context.env), context);
      } catch (error) {
        // The pod may be gone already (evicted, deleted): the cleanup itself must still happen.
        warning(`kubehook could not copy the workspace back: ${(error as Error).message}`);
      }
    }
  }
  group("Deleting the job pod");
  try {
    const removed = await deleteJobObjects(client, namespace, settings.runnerPodName);
    const what = [
      ...removed.pods.map((p) => `pod ${p}`),
      ...removed.secrets.map((s) => `secret ${s}`),
    ];
    console.log(what.length ? `Deleted ${what.join(", ")}.` : "Nothing to clean up.");
    return 0;
  } finally {
    endGroup();
  }
}
