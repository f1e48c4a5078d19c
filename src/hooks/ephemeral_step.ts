/**
 * A container step as an ephemeral container of the job pod: it shares the job pod's network
 * (services answer on the same addresses as in the job container) and mounts the volumes the job
 * container holds the workspace in (action_directories.ts), so nothing is copied for it. Before
 * it starts, what the runner changed goes into the job container (one exec); after it ends, what
 * it changed comes back to the runner (one exec), exactly as around a script step. Its container
 * shares the job container's processes, so a cancelled step is stopped from there. Ephemeral
 * containers cannot be removed: a finished one stays in the pod spec until cleanup_job deletes
 * the pod.
 *
 * @module
 */
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import { openExec } from "../kube/exec.ts";
import { KubeApiError } from "../kube/errors.ts";
import { podSubresourcePath, secretsPath } from "../kube/paths.ts";
import type { ContainerStepPlan } from "../pod/container_step_plan.ts";
import { JOB_CONTAINER_NAME } from "../pod/names.ts";
import type { WorkLayout } from "../runner/layout.ts";
import { followAction } from "./action_run.ts";
import { CANCEL_GRACE_MS, type Connection, type HookContext, type JobState } from "./context.ts";
import { bringStepChangesBack, sendStepUpload, stepUpload } from "./workspace.ts";
import { writeFully } from "../bytes.ts";
import { warning } from "../runner/workflow_commands.ts";

/** The step and where it runs. */
export interface EphemeralStep {
  connection: Connection;
  context: HookContext;
  state: JobState;
  layout: WorkLayout;
  plan: ContainerStepPlan;
}

/** The answer when the Role lacks `patch` on `pods/ephemeralcontainers`: run elsewhere. */
export const NOT_PERMITTED = Symbol("ephemeral containers not permitted");

/** Runs the step; resolves with its exit code, or {@link NOT_PERMITTED} before anything was
 * changed in the pod. The job state's sync moves past the step's changes. */
export async function runEphemeralStep(run: EphemeralStep): Promise<number | typeof NOT_PERMITTED> {
  const { connection, context, state, layout, plan } = run;
  const { client } = connection;
  const container = plan.ephemeral;
  const upload = await stepUpload(state, layout, container.name);
  try {
    await sendStepUpload(connection, state, upload, context.signal);
  } finally {
    await upload.dispose();
  }
  const secret = plan.envSecret.metadata!.name!;
  let code: number;
  let failure: unknown;
  try {
    await client.create(secretsPath(state.namespace), plan.envSecret, context.signal);
    try {
      await client.patch<V1Pod>(
        podSubresourcePath(state.namespace, state.jobPod, "ephemeralcontainers"),
        { spec: { ephemeralContainers: [container] } },
        context.signal,
      );
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 403) return NOT_PERMITTED;
      throw error;
    }
    code = await followStep(run);
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    await client.delete(secretsPath(state.namespace, secret)).catch(() => {});
    state.sync = await bringStepChangesBack(connection, state, layout, container.name).catch(
      (error: Error) => {
        // When the step itself failed (its pod evicted, say), that is the news; this follows.
        if (failure === undefined) throw error;
        warning(`kubehook could not bring the step's files back: ${error.message}`);
        return state.sync;
      },
    );
  }
  return code;
}

async function followStep(run: EphemeralStep): Promise<number> {
  const { connection, context, state } = run;
  const encoder = new TextEncoder();
  try {
    return await followAction({
      client: connection.client,
      namespace: state.namespace,
      pod: state.jobPod,
      container: run.plan.ephemeral.name,
      image: run.plan.ephemeral.image ?? "",
      statusOf: (pod) => ephemeralStatus(pod, run.plan.ephemeral.name),
      startTimeoutMs: connection.settings.prepareJobTimeoutSeconds * 1000,
      signal: context.signal,
      output: (bytes) => writeFully(Deno.stdout, bytes),
      log: (line) => Deno.stderr.writeSync(encoder.encode(line + "\n")),
    });
  } catch (error) {
    if (!context.signal.aborted) throw error;
    await stopEphemeral(run);
    return 130;
  }
}

function ephemeralStatus(pod: V1Pod, name: string): V1ContainerStatus | undefined {
  return pod.status?.ephemeralContainerStatuses?.find((s) => s.name === name);
}

/** Stops a cancelled step: its processes are the ones in the job container's process namespace
 * whose mount namespace is not the job container's; they get TERM, then KILL after 5 s. */
const STOP_FOREIGN = `self=$(readlink /proc/self/ns/mnt)
pids=
for d in /proc/[0-9]*; do
  ns=$(readlink "$d/ns/mnt" 2>/dev/null) || continue
  [ "$ns" = "$self" ] || pids="$pids \${d#/proc/}"
done
[ -n "$pids" ] || exit 0
kill -TERM $pids 2>/dev/null
i=0
while [ "$i" -lt 50 ]; do
  alive=
  for p in $pids; do [ -d "/proc/$p" ] && alive=1; done
  [ -n "$alive" ] || exit 0
  sleep 0.1
  i=$((i + 1))
done
kill -KILL $pids 2>/dev/null
exit 0`;

async function stopEphemeral(run: EphemeralStep): Promise<void> {
  const { connection, state } = run;
  const name = run.plan.ephemeral.name;
  console.error(`kubehook: cancelling the step's container "${name}" in pod "${state.jobPod}".`);
  try {
    const session = await openExec(connection.client, {
      namespace: state.namespace,
      pod: state.jobPod,
      container: JOB_CONTAINER_NAME,
      command: ["sh", "-c", STOP_FOREIGN],
      stdin: false,
      signal: AbortSignal.timeout(CANCEL_GRACE_MS),
    });
    await Promise.all([session.result, session.stdout.cancel(), session.stderr.cancel()]);
  } catch (error) {
    console.error(
      `::warning::kubehook could not stop the step's container "${name}" (${
        error instanceof Error ? error.message : error
      }); it ends with the job pod at cleanup.`,
    );
  }
}
