/**
 * cleanup_job: shows the services' logs, brings back what changed in the job pod since the last
 * sync (KUBEHOOK_COPY_BACK), then removes every pod and secret kubehook created for this runner
 * pod. It runs also when
 * prepare_job failed, so it selects by label and succeeds when there is nothing to clean.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import { KubeApiError, KubeConnectionError } from "../kube/errors.ts";
import { podsPath } from "../kube/paths.ts";
import { podRemoval } from "../kube/pod_status.ts";
import type { Invocation } from "../runner/input.ts";
import { workLayout } from "../runner/layout.ts";
import { endGroup, group, warning } from "../runner/workflow_commands.ts";
import { connect, type Connection, type HookContext, jobState } from "./context.ts";
import { deleteJobObjects } from "./job_objects.ts";
import { readServiceLogs, showServiceLogs } from "./service_logs.ts";

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
        // Loaded only here: a cleanup with nothing to copy back does without the transfer code
        // (5.5 ms of module loading; docs/performance.md).
        const { bringWorkspaceBack } = await import("./workspace.ts");
        await bringWorkspaceBack(connection, state, workLayout(context.env), context);
      } catch (error) {
        // The pod may be gone already (evicted, deleted): the cleanup itself must still happen.
        // (An API server that cannot be reached cannot say either.)
        const fate = error instanceof KubeConnectionError
          ? undefined
          : await podFate(connection.client, state.namespace, state.jobPod);
        warning(
          `kubehook could not copy the workspace back${
            fate ? `: ${fate}, so what changed in it since the last step is lost` : ""
          }: ${(error as Error).message}`,
        );
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

/** Why the job pod cannot be copied from when it is being removed or is gone (evicted, deleted),
 * for the warning: the copy's own error says only what the exec met. */
async function podFate(
  client: Connection["client"],
  namespace: string,
  name: string,
): Promise<string | undefined> {
  let pod: V1Pod;
  try {
    pod = await client.get<V1Pod>(podsPath(namespace, name));
  } catch (error) {
    const gone = error instanceof KubeApiError && error.status === 404;
    return gone ? `the job pod "${name}" was deleted` : undefined;
  }
  const removed = podRemoval(pod);
  if (removed) {
    return `the job pod "${name}" ${
      removed.evicted ? "was evicted" : "is being deleted"
    } (${removed.why})`;
  }
  if (pod.status?.phase === "Failed") {
    return `the job pod "${name}" ${pod.status.reason === "Evicted" ? "was evicted" : "failed"} ` +
      `(${pod.status.reason ?? "Failed"}: ${pod.status.message ?? "no message"})`;
  }
  return undefined;
}
