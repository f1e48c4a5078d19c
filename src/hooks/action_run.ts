/**
 * Watching a container step's container from start to exit, whichever pod it runs in: it waits
 * for the container to start (failing fast, with the pod's newest Warning event, when its image
 * cannot be pulled or it cannot be created), streams its log live and whole (follow_log.ts), and
 * resolves with its exit code as the kubelet recorded it.
 *
 * @module
 */
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import type { KubeClient } from "../kube/client.ts";
import { KubeApiError } from "../kube/errors.ts";
import { followLog } from "../kube/follow_log.ts";
import { podsPath } from "../kube/paths.ts";
import {
  podRemoval,
  PULL_FAILURES,
  SETTLING_WAITING,
  TERMINAL_WAITING,
} from "../kube/pod_status.ts";
import { latestWarning, settle, watchPod } from "../kube/watch_pod.ts";

/** The container to watch. */
export interface ActionRun {
  client: KubeClient;
  namespace: string;
  pod: string;
  container: string;
  image: string;
  /** The container's status in a pod (ephemeral containers report apart). */
  statusOf: (pod: V1Pod) => V1ContainerStatus | undefined;
  /** How long the container may take to start (its image pull included). */
  startTimeoutMs: number;
  signal: AbortSignal;
  output: (bytes: Uint8Array) => Promise<void>;
  log: (line: string) => void;
  /** Whose container it is, for messages: "step" (the default) or "build". */
  role?: "step" | "build";
}

/** Runs the watch; resolves with the exit code (0–255). Throws when the container cannot start or
 * the pod is lost, saying which and why; an abort of `signal` rejects with its reason. */
export async function followAction(run: ActionRun): Promise<number> {
  await waitForStart(run);
  // The pod as last seen, kept by a watch while the container runs: an evicted pod can be gone
  // (404) by the time its container's end is read, and only its last state says it was evicted.
  const watching = new AbortController();
  const seen: { pod?: V1Pod } = {};
  const watched = watchPod(
    run.client,
    {
      namespace: run.namespace,
      name: run.pod,
      signal: AbortSignal.any([run.signal, watching.signal]),
    },
    (pod) => void (pod && (seen.pod = pod)),
  ).catch(() => {});
  try {
    return await followToEnd(run, seen);
  } finally {
    watching.abort();
    await watched;
  }
}

async function followToEnd(run: ActionRun, seen: { pod?: V1Pod }): Promise<number> {
  const where = `container "${run.container}" of pod ${run.namespace}/${run.pod}`;
  const terminated = async () => {
    let pod: V1Pod;
    try {
      pod = await run.client.get<V1Pod>(podsPath(run.namespace, run.pod), { signal: run.signal });
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) {
        throw new Error(removalMessage(run, where, seen.pod));
      }
      throw new Error(`The ${role(run)}'s pod went away while it ran (${where}): ${error}`);
    }
    return run.statusOf(pod)?.state?.terminated ?? lost(pod, `${role(run)}'s ${where}`);
  };
  await followLog(run.client, {
    namespace: run.namespace,
    pod: run.pod,
    container: run.container,
    signal: run.signal,
    output: run.output,
    stopped: async () => (await terminated()) !== undefined,
    log: run.log,
  });
  const end = await terminated();
  if (!end) throw new Error(`The ${role(run)}'s ${where} ended its log but not its run.`);
  // A failure may be the program's own, or its pod being removed (an evicted Kaniko exits 2 on
  // SIGTERM): only the first is the program's result. A kubelet that kills first and says why
  // after is waited for only when a signal killed the container.
  const removed = end.exitCode !== 0
    ? await removal(run, where, seen, end.exitCode < 128)
    : undefined;
  if (removed) throw new Error(removed);
  return end.exitCode & 255;
}

/** Why the pod of a failed container is going away (evicted, deleted), or undefined. A kubelet
 * stops the containers before the pod's status says why: unless `secondLook` is set, one more
 * look after a moment. */
async function removal(
  run: ActionRun,
  where: string,
  seen: { pod?: V1Pod },
  secondLook = false,
): Promise<string | undefined> {
  let pod: V1Pod | undefined;
  try {
    pod = await run.client.get<V1Pod>(podsPath(run.namespace, run.pod), { signal: run.signal });
  } catch (error) {
    // Gone is an answer; an API that does not answer is not: the exit code stands.
    if (!(error instanceof KubeApiError && error.status === 404)) return undefined;
    return removalMessage(run, where, seen.pod);
  }
  if (removalOf(pod)) return removalMessage(run, where, pod);
  if (secondLook) return undefined;
  await new Promise((resolve) => setTimeout(resolve, 1000));
  return await removal(run, where, seen, true);
}

/** Why `pod` is being removed (evicted, deleted), or undefined. */
function removalOf(pod: V1Pod | undefined): { evicted: boolean; why?: string } | undefined {
  const removed = pod && podRemoval(pod);
  const evicted = removed?.evicted || pod?.status?.reason === "Evicted";
  const why = removed?.why ??
    (evicted ? `Evicted: ${pod?.status?.message ?? "no message"}` : undefined);
  return why ? { evicted, why } : undefined;
}

/** The step's pod was removed, or is gone: `pod` is its last state known (undefined: none). */
function removalMessage(run: ActionRun, where: string, pod: V1Pod | undefined): string {
  const removed = removalOf(pod);
  return `The ${role(run)}'s pod ${removed?.evicted ? "was evicted" : "went away"} while it ran (` +
    `${where}${removed?.why ? `; ${removed.why}` : ""}): its result is lost with it. Look at the ` +
    "namespace's events for who or what removed it, and run the job again.";
}

function role(run: ActionRun): string {
  return run.role ?? "step";
}

/** A pod that stopped for good leaves the container's end unknown: that is an error. */
function lost(pod: V1Pod, what: string): undefined {
  const phase = pod.status?.phase;
  if (phase !== "Failed" && phase !== "Succeeded") return undefined;
  throw new Error(
    `The ${what} is gone: the pod is ${phase} (${pod.status?.reason ?? ""} ${
      pod.status?.message ?? ""
    }). Look at the namespace's events for why.`,
  );
}

async function waitForStart(run: ActionRun): Promise<void> {
  const deadline = AbortSignal.timeout(run.startTimeoutMs);
  const signal = AbortSignal.any([run.signal, deadline]);
  try {
    await watchPod(run.client, { namespace: run.namespace, name: run.pod, signal }, async (pod) => {
      if (pod === null) {
        throw new Error(
          `The ${role(run)}'s pod ${run.namespace}/${run.pod} was deleted before it started.`,
        );
      }
      let state = run.statusOf(pod)?.state;
      const settling = (p: V1Pod) =>
        SETTLING_WAITING.has(run.statusOf(p)?.state?.waiting?.reason ?? "");
      if (settling(pod)) {
        pod = await settle(
          run.client,
          { namespace: run.namespace, name: run.pod, signal },
          settling,
        );
        state = run.statusOf(pod)?.state;
      }
      if (state?.running || state?.terminated) return true;
      const reason = state?.waiting?.reason;
      if (reason && TERMINAL_WAITING.has(reason)) {
        throw await startFailure(run, reason, state?.waiting?.message);
      }
      lost(pod, `${role(run)}'s container "${run.container}"`);
      return undefined;
    });
  } catch (error) {
    if (deadline.aborted && !run.signal.aborted) {
      throw new Error(
        `The ${
          role(run)
        }'s container "${run.container}" (image "${run.image}") did not start within ` +
          `${
            Math.round(run.startTimeoutMs / 1000)
          } s. Raise ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS ` +
          "for slow image pulls, or look at the pod's events.",
      );
    }
    throw error;
  }
}

async function startFailure(run: ActionRun, reason: string, message?: string): Promise<Error> {
  const event = await latestWarning(run.client, run.namespace, run.pod);
  // A pull's own words are in its event (the runtime's error); any other reason's in the
  // container's status: the newest Warning may be about something else (a DNS fallback).
  const told = PULL_FAILURES.has(reason)
    ? event?.message?.trim() ?? message ?? reason
    : message?.trim() || event?.message?.trim() || reason;
  if (PULL_FAILURES.has(reason)) {
    return new Error(
      `The ${
        role(run)
      }'s image "${run.image}" cannot be pulled: ${reason}: ${told}. Check the image name ` +
        "and tag, and give registry credentials for a private image.",
    );
  }
  return new Error(
    `The ${
      role(run)
    }'s container "${run.container}" (image "${run.image}") cannot start: ${reason}: ` +
      `${told}.`,
  );
}
