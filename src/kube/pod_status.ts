/**
 * Reads a pod's status the way a person at `kubectl describe` would: is it ready, still coming up
 * (and why), or stuck for good. Pure, so the rules are unit-tested; `watch_pod.ts` applies them to a
 * live watch.
 *
 * @module
 */
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";

/** Waiting reasons that never resolve by themselves: waiting longer only hides the failure. */
export const TERMINAL_WAITING: ReadonlySet<string> = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "ErrImageNeverPull",
  "CreateContainerConfigError",
  "CreateContainerError",
  "CrashLoopBackOff",
  "RunContainerError",
]);

/** Terminal waiting reasons that may still clear by themselves for a moment after a pod starts:
 * the kubelet reads the Secrets a container's environment names from a cache, which may not hold
 * one created just before the pod (`secret "x" not found`), and tries again after its back-off
 * (10 s at first). A wait gives them {@link SETTLE_MS} before it believes them. */
export const SETTLING_WAITING: ReadonlySet<string> = new Set(["CreateContainerConfigError"]);
export const SETTLE_MS = 30_000;

/** Waiting reasons that mean the image could not be fetched. */
export const PULL_FAILURES: ReadonlySet<string> = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
]);

/** What a pod's status means to a hook waiting for it to run. */
export type PodVerdict =
  | { state: "running" }
  | { state: "waiting"; why: string; unschedulable: boolean }
  | { state: "failed"; reason: string; container?: string; message: string };

/** Classifies a pod: running when every container runs, failed when it can never get there,
 * waiting otherwise (with the reason a person would want to read). Readiness is not asked for:
 * a container with a readiness probe (a service's health check) runs before it is ready, and
 * service_health.ts waits for that, with its own messages. Containers named in `notWaitedFor`
 * need not run yet (the caller waits for them its own way), but their failures count. */
export function classifyPod(
  pod: V1Pod,
  options: { notWaitedFor?: readonly string[] } = {},
): PodVerdict {
  const status = pod.status ?? {};
  for (const init of status.initContainerStatuses ?? []) {
    const terminated = init.state?.terminated;
    if (terminated && terminated.exitCode !== 0) {
      return {
        state: "failed",
        reason: "InitContainerFailed",
        container: init.name,
        message: `init container "${init.name}" ${describeTerminated(init)}`,
      };
    }
    const stuck = terminalWaiting(init);
    if (stuck) return stuck;
  }
  if (status.phase === "Failed" || status.phase === "Succeeded") {
    const reason = status.reason ?? (status.phase === "Failed" ? "Failed" : "Completed");
    const exited = firstTerminated(status.containerStatuses ?? []);
    return {
      state: "failed",
      reason,
      container: exited?.name,
      message: status.message ??
        (exited ? describeTerminated(exited) : `the pod is ${status.phase}`),
    };
  }
  const containers = status.containerStatuses ?? [];
  for (const container of containers) {
    const stuck = terminalWaiting(container);
    if (stuck) return stuck;
    if (container.state?.terminated) {
      return {
        state: "failed",
        reason: "ContainerExited",
        container: container.name,
        message: `container "${container.name}" ${describeTerminated(container)}`,
      };
    }
  }
  const expected = (pod.spec?.containers ?? []).filter((c) =>
    !options.notWaitedFor?.includes(c.name)
  ).map((c) => c.name);
  const running = new Set(containers.filter((c) => c.state?.running).map((c) => c.name));
  if (status.phase === "Running" && expected.length > 0 && expected.every((c) => running.has(c))) {
    return { state: "running" };
  }
  return waitingVerdict(pod);
}

function terminalWaiting(container: V1ContainerStatus): PodVerdict | undefined {
  const waiting = container.state?.waiting;
  if (!waiting?.reason || !TERMINAL_WAITING.has(waiting.reason)) return undefined;
  return {
    state: "failed",
    reason: waiting.reason,
    container: container.name,
    message: waiting.message ?? waiting.reason,
  };
}

function firstTerminated(statuses: V1ContainerStatus[]): V1ContainerStatus | undefined {
  return statuses.find((s) => s.state?.terminated && s.state.terminated.exitCode !== 0) ??
    statuses.find((s) => s.state?.terminated);
}

function describeTerminated(container: V1ContainerStatus): string {
  const t = container.state?.terminated;
  if (!t) return "is not running";
  const why = t.reason ? ` (${t.reason}${t.message ? `: ${t.message.trim()}` : ""})` : "";
  return `exited with code ${t.exitCode}${why}`;
}

function waitingVerdict(pod: V1Pod): PodVerdict {
  const status = pod.status ?? {};
  const scheduled = status.conditions?.find((c) => c.type === "PodScheduled");
  if (scheduled?.status === "False") {
    return {
      state: "waiting",
      unschedulable: scheduled.reason === "Unschedulable",
      why: `not scheduled yet: ${scheduled.message ?? scheduled.reason ?? "no node fits"}`,
    };
  }
  const statuses = [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])];
  const waiting = statuses.find((s) => s.state?.waiting);
  if (waiting?.state?.waiting) {
    const w = waiting.state.waiting;
    return {
      state: "waiting",
      unschedulable: false,
      why: `container "${waiting.name}" is ${w.reason ?? "waiting"}${
        w.message ? `: ${w.message}` : ""
      }`,
    };
  }
  return { state: "waiting", unschedulable: false, why: `the pod is ${status.phase ?? "Pending"}` };
}

/** How a pod is being removed for good — evicted through the Eviction API or by the kubelet under
 * pressure, preempted, deleted — or undefined when nothing is removing it. A kubelet eviction
 * also shows as phase Failed with reason Evicted, which callers read themselves. */
export function podRemoval(pod: V1Pod): { evicted: boolean; why: string } | undefined {
  // Kubernetes marks a pod it is about to stop for good: evicted through the API, preempted...
  const disruption = pod.status?.conditions?.find((c) =>
    c.type === "DisruptionTarget" && c.status === "True"
  );
  if (!disruption && !pod.metadata?.deletionTimestamp) return undefined;
  return {
    evicted: /Eviction|TerminationByKubelet/.test(disruption?.reason ?? ""),
    why: `${disruption?.reason ?? "deleted"}: ${disruption?.message ?? "a deletion was requested"}`,
  };
}
