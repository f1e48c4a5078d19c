/**
 * Waits for a pod to run by watching it (no polling), resuming the watch when the server ends it, and
 * failing fast when the pod can never run: a bad image, a failed init container, an exited
 * container, an eviction. The failure names the container, the reason and the latest Warning event.
 *
 * @module
 */
import type { CoreV1Event, V1Pod } from "@kubernetes/client-node";
import type { KubeClient } from "./client.ts";
import { KubeApiError } from "./errors.ts";
import { eventsPath, podsPath, podSubresourcePath } from "./paths.ts";
import {
  classifyPod,
  podRemoval,
  type PodVerdict,
  PULL_FAILURES,
  SETTLE_MS,
  SETTLING_WAITING,
} from "./pod_status.ts";
import { sleep } from "./retry.ts";

/** How to wait. */
export interface WaitOptions {
  namespace: string;
  name: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called with the reason a pod is still waiting: at once when it cannot be scheduled, then
   * every `reportEveryMs` (default 30 s). */
  onWaiting?: (why: string) => void;
  reportEveryMs?: number;
  /** Containers the pod counts as running without (see `classifyPod`). */
  notWaitedFor?: readonly string[];
  /** What to do when a named container cannot start: appended to its error. */
  advice?: Readonly<Record<string, string>>;
}

/** A pod that cannot run, with everything a person needs to fix it. */
export class PodStartError extends Error {
  constructor(message: string, readonly verdict: PodVerdict) {
    super(message);
    this.name = "PodStartError";
  }
}

/** Calls `look` with the pod as it is now and then with every change (a watch, resumed when the
 * server ends it, re-listed after 410 Gone) until `look` returns a value, which it resolves with.
 * `look` gets null when the pod was deleted. */
export async function watchPod<T>(
  client: KubeClient,
  target: { namespace: string; name: string; signal?: AbortSignal },
  look: (pod: V1Pod | null) => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const { namespace, name, signal } = target;
  let resourceVersion: string | undefined;
  while (true) {
    if (resourceVersion === undefined) {
      let pod: V1Pod | null;
      try {
        pod = await client.get<V1Pod>(podsPath(namespace, name), { signal });
      } catch (error) {
        if (!(error instanceof KubeApiError && error.status === 404)) throw error;
        pod = null;
      }
      resourceVersion = pod?.metadata?.resourceVersion;
      const seen = await look(pod);
      if (seen !== undefined) return seen;
    }
    try {
      for await (
        const event of client.watch<V1Pod>(podsPath(namespace), {
          fieldSelector: `metadata.name=${name}`,
          resourceVersion,
          allowWatchBookmarks: "true",
        }, signal)
      ) {
        resourceVersion = event.object.metadata?.resourceVersion ?? resourceVersion;
        if (event.type === "BOOKMARK") continue;
        const seen = await look(event.type === "DELETED" ? null : event.object);
        if (seen !== undefined) return seen;
      }
    } catch (error) {
      // 410 Gone: our resourceVersion is too old; list again and watch from there.
      if (error instanceof KubeApiError && error.status === 410) resourceVersion = undefined;
      else throw error;
    }
  }
}

/** Reads the pod again every second while `settling(pod)` holds, for at most {@link SETTLE_MS}:
 * a reason the kubelet may still clear is believed only when it lasts, and a watch sees no change
 * while the kubelet retries. Resolves with the last pod read. */
export async function settle(
  client: KubeClient,
  target: { namespace: string; name: string; signal?: AbortSignal },
  settling: (pod: V1Pod) => boolean,
): Promise<V1Pod> {
  const until = Date.now() + SETTLE_MS;
  for (;;) {
    await sleep(1000, target.signal);
    const pod = await client.get<V1Pod>(podsPath(target.namespace, target.name), {
      signal: target.signal,
    });
    if (!settling(pod) || Date.now() >= until) return pod;
  }
}

/** Events by which a node autoscaler says it is adding a node for a pod: cluster-autoscaler's,
 * and Karpenter's nomination of a node it launches. */
const SCALE_UP = new Set(["TriggeredScaleUp", "Nominated"]);
/** cluster-autoscaler's word that no node group would fit the pod. */
const NO_SCALE_UP = "NotTriggerScaleUp";

/** Resolves with the pod once all its containers run; throws {@link PodStartError} when it never
 * will, or when `timeoutMs` passes. While it waits, `onWaiting` hears why: at once when the pod
 * cannot be scheduled, then every `reportEveryMs` — on a timer, since a pod that waits for room
 * changes no more and its watch goes quiet. */
export async function waitForPodRunning(client: KubeClient, options: WaitOptions): Promise<V1Pod> {
  const { namespace, name } = options;
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  let verdict: PodVerdict = {
    state: "waiting",
    why: "the pod was just created",
    unschedulable: false,
  };
  /** Why it waits, with what an autoscaler said when the pod cannot be scheduled. */
  let why = verdict.why;
  let done = false;
  const report = async () => {
    if (verdict.state !== "waiting") return;
    why = verdict.unschedulable ? await withAutoscaler(client, options, verdict.why) : verdict.why;
    if (!done && !signal.aborted) options.onWaiting?.(why);
  };
  let reported: Promise<void> | undefined;
  const timer = setInterval(() => void report(), options.reportEveryMs ?? 30_000);
  try {
    return await watchPod(client, { namespace, name, signal }, async (pod) => {
      if (pod === null) {
        throw new PodStartError(
          `pod "${name}" in namespace "${namespace}" was deleted while kubehook waited for it ` +
            `to start. Something else removed it (a cleanup, an operator, a person); run the job again.`,
          { state: "failed", reason: "Deleted", message: "deleted" },
        );
      }
      // Evicted (the Eviction API marks the pod, then deletes it) or deleted: it will not run.
      const removed = podRemoval(pod);
      if (removed) {
        throw new PodStartError(
          `pod "${name}" in namespace "${namespace}" ${
            removed.evicted ? "was evicted" : "is being deleted"
          } while kubehook waited for it to start (${removed.why}). Look at the namespace's ` +
            "events for who or what removed it, and run the job again.",
          {
            state: "failed",
            reason: removed.evicted ? "Evicted" : "Deleted",
            message: removed.why,
          },
        );
      }
      const classify = (p: V1Pod) => classifyPod(p, options);
      verdict = classify(pod);
      if (verdict.state === "failed" && SETTLING_WAITING.has(verdict.reason)) {
        pod = await settle(client, { namespace, name, signal }, (p) => {
          const v = classify(p);
          return v.state === "failed" && SETTLING_WAITING.has(v.reason);
        });
        verdict = classify(pod);
      }
      if (verdict.state === "running") return pod;
      if (verdict.state === "failed") throw await podStartError(client, options, pod, verdict);
      why = verdict.why;
      // No node fits: say so at once (the timer repeats it), not only after the first period.
      if (verdict.unschedulable) reported ??= report();
      return undefined;
    });
  } catch (error) {
    if (deadline.aborted && !(error instanceof PodStartError)) {
      await reported;
      throw new PodStartError(
        `pod "${name}" in namespace "${namespace}" did not start within ` +
          `${Math.round(options.timeoutMs / 1000)} s: ${why.replace(/\.+$/, "")}. Raise ` +
          `ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS if the cluster is only slow (an autoscaler adding ` +
          `a node), or fix what the reason names.`,
        verdict,
      );
    }
    throw error;
  } finally {
    done = true;
    clearInterval(timer);
  }
}

/** `why` an unschedulable pod waits, led by what a node autoscaler said about it, if anything. */
async function withAutoscaler(
  client: KubeClient,
  target: { namespace: string; name: string },
  why: string,
): Promise<string> {
  const said = await latestEvent(
    client,
    target.namespace,
    target.name,
    (e) => SCALE_UP.has(e.reason ?? "") || e.reason === NO_SCALE_UP,
  );
  if (!said) return why;
  const message = said.message?.trim().replace(/\.+$/, "") ?? "";
  return SCALE_UP.has(said.reason!)
    ? `waiting for a node: an autoscaler is adding one (${said.reason}: ${message}); ${why}`
    : `no node autoscaler will add a node for it (${said.reason}: ${message}); ${why}`;
}

/** The error for a pod that can never run: the container, the reason, the latest Warning event,
 * for a container that ran its last output, and the caller's advice for that container. */
export async function podStartError(
  client: KubeClient,
  options: Pick<WaitOptions, "namespace" | "name" | "advice">,
  pod: V1Pod,
  verdict: PodVerdict & { state: "failed" },
): Promise<PodStartError> {
  const { namespace, name } = options;
  const [event, log] = await Promise.all([
    latestWarning(client, namespace, name),
    verdict.container && !PULL_FAILURES.has(verdict.reason)
      ? logTail(client, namespace, name, verdict.container)
      : undefined,
  ]);
  const told = event ? ` (event: ${event.reason}: ${event.message?.trim() ?? ""})` : "";
  // Ends in a full stop, so what follows reads as a sentence of its own.
  const printed = log ? ` Its last output: ${log.replace(/[^.]$/, "$&.")}` : "";
  if (verdict.container && PULL_FAILURES.has(verdict.reason)) {
    const spec = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]
      .find((c) => c.name === verdict.container);
    return new PodStartError(
      `${roleOf(verdict.container)} image "${spec?.image}" cannot be pulled: ${verdict.reason}: ` +
        `${
          event?.message?.includes(verdict.message) ? event.message.trim() : verdict.message + told
        }. Check the image name and tag, and that the workflow gives ` +
        `registry credentials for a private image (pod ${namespace}/${name}).`,
      verdict,
    );
  }
  const where = verdict.container ? `container "${verdict.container}" of pod` : "pod";
  const advice = verdict.container && options.advice?.[verdict.container];
  const fix = advice ? ` ${advice}` : "";
  return new PodStartError(
    `${where} "${name}" in namespace "${namespace}" cannot start: ` +
      `${verdict.reason}: ${verdict.message}${told}.${printed}${fix}`,
    verdict,
  );
}

/** How a person names a container of the job pod. */
function roleOf(container: string): string {
  if (container === "job") return "job container";
  if (container === "externals") return 'container "externals" (ACTIONS_RUNNER_IMAGE)';
  return `service container "${container}"`;
}

/** The last lines a failed container printed, on one line (a courtesy: never fail on it). */
async function logTail(
  client: KubeClient,
  namespace: string,
  name: string,
  container: string,
): Promise<string | undefined> {
  try {
    const text = (await client.getText(podSubresourcePath(namespace, name, "log"), {
      query: { container, tailLines: 5 },
    })).trim();
    return text ? text.split("\n").join(" | ") : undefined;
  } catch {
    return undefined;
  }
}

/** The newest Warning event about the pod, or undefined (events are a courtesy: never fail on them). */
export function latestWarning(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<CoreV1Event | undefined> {
  return latestEvent(client, namespace, name, (e) => e.type === "Warning");
}

/** The newest event about the pod that `match`es, or undefined, also when events cannot be read. */
export async function latestEvent(
  client: KubeClient,
  namespace: string,
  name: string,
  match: (event: CoreV1Event) => boolean,
): Promise<CoreV1Event | undefined> {
  try {
    const list = await client.list<CoreV1Event>(eventsPath(namespace), {
      fieldSelector: `involvedObject.name=${name}`,
    });
    return list.items.filter(match).sort((a, b) => eventTime(a) - eventTime(b)).at(-1);
  } catch {
    return undefined;
  }
}

function eventTime(event: CoreV1Event): number {
  const when = event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp;
  return when ? new Date(when as unknown as string).getTime() : 0;
}
