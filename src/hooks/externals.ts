/**
 * prepare_job's wait for the runner's externals to be complete in the job pod's `/__e` (see
 * src/pod/externals.ts), beside the workspace's copy: an exec into the job container waits for the
 * externals container's mark; when the copy is still running after that exec's bound, another
 * asks again, until it is done, it failed, its container exited, or prepare_job's time is up.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import { podsPath } from "../kube/paths.ts";
import { classifyPod } from "../kube/pod_status.ts";
import { podStartError } from "../kube/watch_pod.ts";
import {
  EXTERNALS_ADVICE,
  EXTERNALS_CONTAINER,
  externalsCopyFailed,
  externalsWaitMs,
  externalsWaitScript,
  readExternalsWait,
} from "../pod/externals.ts";
import { JOB_CONTAINER_NAME } from "../pod/names.ts";
import type { Connection, JobState } from "./context.ts";
import { runIn } from "./workspace.ts";

/** Resolves when the externals are complete; throws, saying why and what to change, when they
 * will not be by `deadline` (a `performance.now()` time), or when `signal` aborts. */
export async function externalsCopied(
  connection: Connection,
  state: JobState,
  options: { deadline: number; signal: AbortSignal },
): Promise<void> {
  const { deadline, signal } = options;
  const { client, settings } = connection;
  const target = { namespace: state.namespace, pod: state.jobPod, container: JOB_CONTAINER_NAME };
  const started = performance.now();
  for (;;) {
    const left = deadline - performance.now();
    const script = externalsWaitScript(
      Math.max(0, Math.min(externalsWaitMs(settings.heartbeatDeadlineMs), left)),
    );
    const answer = readExternalsWait((await runIn(connection, target, script, signal)).stdout);
    if (answer.state === "ready") return;
    if (answer.state === "failed") {
      throw new Error(externalsCopyFailed(settings.runnerImage, answer.output));
    }
    // An externals container that exited after the pod ran never marks its copy.
    const pod = await client.get<V1Pod>(podsPath(state.namespace, state.jobPod), { signal });
    const verdict = classifyPod(pod);
    if (verdict.state === "failed") {
      const at = { namespace: state.namespace, name: state.jobPod, advice: EXTERNALS_ADVICE };
      throw await podStartError(client, at, pod, verdict);
    }
    if (performance.now() >= deadline) {
      const waited = ((performance.now() - started) / 1000).toFixed(0);
      throw new Error(
        `The runner's externals were still being copied into pod ${state.namespace}/` +
          `${state.jobPod} (container "${EXTERNALS_CONTAINER}", ACTIONS_RUNNER_IMAGE ` +
          `${settings.runnerImage}) ` +
          `${waited} s after it ran, when prepare_job's time ` +
          "(ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS) ran out. See `kubectl logs " +
          `${state.jobPod} -c ${EXTERNALS_CONTAINER}\` and the node's disk.`,
      );
    }
  }
}
