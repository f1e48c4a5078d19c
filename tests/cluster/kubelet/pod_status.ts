/**
 * The pod status kubelet reports, computed from what the kubelet knows of each container: phase
 * (kubelet's own rules: waiting containers keep a pod Pending, a stopped one counts as stopped
 * once it has run, restartPolicy decides between Running, Succeeded and Failed), the
 * PodReadyToStartContainers, Initialized, Ready, ContainersReady and PodScheduled conditions with
 * `lastTransitionTime` kept while a condition does not change, and the container statuses.
 *
 * @module
 */
import type {
  V1ContainerState,
  V1ContainerStatus,
  V1Pod,
  V1PodCondition,
  V1PodStatus,
} from "@kubernetes/client-node";

/** What the kubelet tracks of one container. */
export interface ContainerRecord {
  name: string;
  /** The image as the spec writes it. */
  image: string;
  state: V1ContainerState;
  lastState?: V1ContainerState;
  restartCount: number;
  /** An init container with `restartPolicy: Always` (a native sidecar): it runs beside the
   * containers, and counts as initialized once it runs. */
  sidecar?: boolean;
  /** Normalized reference and image ID, once pulled. */
  pulled?: { image: string; imageID: string };
  /** What the readiness probe last concluded for the current run (probes.ts); unused when the
   * container has no readiness probe. */
  ready?: boolean;
  containerID?: string;
}

/** What the kubelet tracks of the pod itself. */
export interface PodRecord {
  pod: V1Pod;
  initContainers: readonly ContainerRecord[];
  containers: readonly ContainerRecord[];
  /** Added while the pod runs; never part of its phase or readiness. */
  ephemeralContainers: ContainerRecord[];
  podIP: string;
  hostIP: string;
  startTime: string;
  /** The network namespace exists. */
  sandboxReady: boolean;
  /** Set by eviction: the phase and why. */
  terminal?: { phase: "Failed"; reason: string; message: string };
}

/** RFC 3339 at second precision, as the API server writes times. */
export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d+Z$/, "Z");
}

/** The status to store, keeping unchanged conditions' transition times from `previous`. */
export function podStatus(record: PodRecord, previous: V1PodStatus | undefined): V1PodStatus {
  const phase = podPhase(record);
  const completed = phase === "Succeeded" || phase === "Failed";
  const incompleteInit = record.initContainers.filter(initIncomplete);
  const unready = record.containers.filter((c) => !containerReady(record, c));
  const readiness = (type: string): Partial<V1PodCondition> =>
    completed
      ? { type, status: "False", reason: "PodCompleted" }
      : unready.length === 0
      ? { type, status: "True" }
      : {
        type,
        status: "False",
        reason: "ContainersNotReady",
        message: `containers with unready status: [${unready.map((c) => c.name).join(" ")}]`,
      };
  const conditions: Partial<V1PodCondition>[] = [
    { type: "PodReadyToStartContainers", status: record.sandboxReady ? "True" : "False" },
    incompleteInit.length === 0 ? { type: "Initialized", status: "True" } : {
      type: "Initialized",
      status: "False",
      reason: "ContainersNotInitialized",
      message: `containers with incomplete status: [${
        incompleteInit.map((c) => c.name).join(" ")
      }]`,
    },
    readiness("Ready"),
    readiness("ContainersReady"),
    { type: "PodScheduled", status: "True" },
  ];
  const status: V1PodStatus = {
    phase,
    conditions: conditions.map((c) => withTransitionTime(c, previous)),
    hostIP: record.hostIP,
    hostIPs: [{ ip: record.hostIP }],
    podIP: record.podIP,
    podIPs: [{ ip: record.podIP }],
    startTime: record.startTime as unknown as Date,
    containerStatuses: record.containers.map((c) => containerStatus(c, containerReady(record, c))),
    qosClass: qosClass(record.pod),
  };
  if (record.initContainers.length > 0) {
    status.initContainerStatuses = record.initContainers.map((c) =>
      containerStatus(c, containerReady(record, c))
    );
  }
  if (record.ephemeralContainers.length > 0) {
    status.ephemeralContainerStatuses = record.ephemeralContainers.map((c) =>
      containerStatus(c, false)
    );
  }
  if (record.terminal) {
    Object.assign(status, { reason: record.terminal.reason, message: record.terminal.message });
  }
  return status;
}

/** kubelet's getPhase. */
export function podPhase(record: PodRecord): string {
  if (record.terminal) return record.terminal.phase;
  const policy = record.pod.spec?.restartPolicy ?? "Always";
  const pendingInit = record.initContainers.filter(initIncomplete);
  if (pendingInit.length > 0) {
    const failed = pendingInit.some((c) => c.state.terminated && c.state.terminated.exitCode !== 0);
    return failed && policy === "Never" ? "Failed" : "Pending";
  }
  let waiting = 0, running = 0, stopped = 0, succeeded = 0;
  for (const c of record.containers) {
    if (c.state.running) running++;
    else if (c.state.terminated) {
      stopped++;
      if (c.state.terminated.exitCode === 0) succeeded++;
    } else if (c.lastState?.terminated) stopped++;
    else waiting++;
  }
  if (waiting > 0) return "Pending";
  if (running > 0) return "Running";
  if (stopped === 0) return "Pending";
  if (policy === "Always") return "Running";
  if (stopped === succeeded) return "Succeeded";
  return policy === "Never" ? "Failed" : "Running";
}

/** An init container still to complete: not exited 0, and not a sidecar that runs. */
function initIncomplete(c: ContainerRecord): boolean {
  return c.state.terminated?.exitCode !== 0 && !(c.sidecar && c.state.running);
}

/** Running, and ready by its readiness probe when it has one. */
function containerReady(record: PodRecord, c: ContainerRecord): boolean {
  const spec = [...record.pod.spec?.containers ?? [], ...record.pod.spec?.initContainers ?? []]
    .find((s) => s.name === c.name);
  return c.state.running !== undefined && (!spec?.readinessProbe || c.ready === true);
}

function containerStatus(c: ContainerRecord, ready: boolean): V1ContainerStatus {
  return {
    name: c.name,
    state: c.state,
    lastState: c.lastState ?? {},
    ready,
    restartCount: c.restartCount,
    image: c.pulled?.image ?? c.image,
    imageID: c.pulled?.imageID ?? "",
    ...(c.containerID ? { containerID: c.containerID } : {}),
    started: c.state.running !== undefined,
  };
}

function withTransitionTime(
  condition: Partial<V1PodCondition>,
  previous: V1PodStatus | undefined,
): V1PodCondition {
  const before = previous?.conditions?.find((c) => c.type === condition.type);
  const time = before && before.status === condition.status
    ? before.lastTransitionTime
    : timestamp();
  return {
    ...condition,
    lastProbeTime: null as unknown as undefined,
    lastTransitionTime: time as unknown as Date,
  } as V1PodCondition;
}

function qosClass(pod: V1Pod): string {
  const resources = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]
    .map((c) => c.resources ?? {});
  const any = resources.some((r) =>
    Object.keys(r.requests ?? {}).length + Object.keys(r.limits ?? {}).length > 0
  );
  if (!any) return "BestEffort";
  const guaranteed = resources.every((r) =>
    ["cpu", "memory"].every((k) =>
      r.limits?.[k] !== undefined && (r.requests?.[k] ?? r.limits[k]) === r.limits[k]
    )
  );
  return guaranteed ? "Guaranteed" : "Burstable";
}
