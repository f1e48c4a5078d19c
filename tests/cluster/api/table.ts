/**
 * Server-side printing: the `meta.k8s.io/v1` `Table` that `kubectl get` asks for, with the
 * columns a real cluster prints (pods: NAME READY STATUS RESTARTS AGE, plus IP and NODE with
 * `-o wide`; events: LAST SEEN TYPE REASON OBJECT MESSAGE; ...).
 *
 * @module
 */
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import type { KubeObject } from "./store.ts";

interface Column {
  name: string;
  type: string;
  format?: string;
  priority?: number;
  cell: (o: KubeObject) => string | number;
}

/** Whether a request's Accept header asks for a Table. */
export function wantsTable(accept: string | null): boolean {
  return (accept ?? "").includes("as=Table");
}

/** kubectl's short human durations: 45s, 3m20s, 5h10m, 2d3h, 400d. */
export function humanAge(from: string | undefined, now = Date.now()): string {
  if (!from) return "<unknown>";
  const s = Math.floor((now - Date.parse(from)) / 1000);
  if (s < 0) return "<invalid>";
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60), h = Math.floor(m / 60), d = Math.floor(h / 24);
  if (m < 10) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  if (h < 3) return `${m}m`;
  if (h < 8) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  if (h < 48) return `${h}h`;
  if (h < 192) return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
  return d < 730 ? `${d}d` : `${Math.floor(d / 365)}y${d % 365}d`;
}

function containerReason(s: V1ContainerStatus): string | undefined {
  const t = s.state?.terminated;
  if (s.state?.waiting?.reason) return s.state.waiting.reason;
  if (t) return t.reason ?? (t.signal ? `Signal:${t.signal}` : `ExitCode:${t.exitCode}`);
  return undefined;
}

/** The STATUS column kubectl prints for a pod. */
export function podStatusText(pod: V1Pod): string {
  const status = pod.status ?? {};
  const inits = status.initContainerStatuses ?? [];
  let reason = status.reason ?? status.phase ?? "Unknown";
  const failedInit = inits.findIndex((s) => s.state?.terminated?.exitCode);
  const pendingInit = inits.findIndex((s) => !s.state?.terminated);
  if (failedInit >= 0) {
    reason = `Init:${containerReason(inits[failedInit]) ?? "Error"}`;
  } else if (pendingInit >= 0) {
    const waiting = inits[pendingInit].state?.waiting?.reason;
    reason = waiting && waiting !== "PodInitializing"
      ? `Init:${waiting}`
      : `Init:${pendingInit}/${(pod.spec?.initContainers ?? []).length}`;
  } else {
    for (const s of [...(status.containerStatuses ?? [])].reverse()) {
      reason = containerReason(s) ?? reason;
    }
  }
  if (pod.metadata?.deletionTimestamp) reason = "Terminating";
  return reason;
}

const name: Column = {
  name: "Name",
  type: "string",
  format: "name",
  cell: (o) => o.metadata.name ?? "",
};
const age: Column = {
  name: "Age",
  type: "string",
  cell: (o) => humanAge(o.metadata.creationTimestamp),
};

const POD_COLUMNS: Column[] = [
  name,
  {
    name: "Ready",
    type: "string",
    cell: (o) => {
      const statuses = (o as V1Pod).status?.containerStatuses ?? [];
      const total = (o as V1Pod).spec?.containers?.length ?? 0;
      return `${statuses.filter((s) => s.ready).length}/${total}`;
    },
  },
  { name: "Status", type: "string", cell: (o) => podStatusText(o as V1Pod) },
  {
    name: "Restarts",
    type: "string",
    cell: (o) =>
      String(
        ((o as V1Pod).status?.containerStatuses ?? []).reduce((n, s) => n + s.restartCount, 0),
      ),
  },
  age,
  { name: "IP", type: "string", priority: 1, cell: (o) => (o as V1Pod).status?.podIP ?? "<none>" },
  {
    name: "Node",
    type: "string",
    priority: 1,
    cell: (o) => (o as V1Pod).spec?.nodeName ?? "<none>",
  },
  { name: "Nominated Node", type: "string", priority: 1, cell: () => "<none>" },
  { name: "Readiness Gates", type: "string", priority: 1, cell: () => "<none>" },
];

const str = (v: unknown) => (v === undefined || v === null ? "" : String(v));
const get = (o: KubeObject, path: string) =>
  path.split(".").reduce<unknown>((v, k) => (v as Record<string, unknown>)?.[k], o);

const COLUMNS: Record<string, Column[]> = {
  pods: POD_COLUMNS,
  events: [
    {
      name: "Last Seen",
      type: "string",
      cell: (o) => humanAge(str(o.lastTimestamp ?? o.eventTime ?? o.metadata.creationTimestamp)),
    },
    { name: "Type", type: "string", cell: (o) => str(o.type) },
    { name: "Reason", type: "string", cell: (o) => str(o.reason) },
    {
      name: "Object",
      type: "string",
      cell: (o) =>
        `${str(get(o, "involvedObject.kind")).toLowerCase()}/${str(get(o, "involvedObject.name"))}`,
    },
    { name: "Message", type: "string", cell: (o) => str(o.message) },
  ],
  secrets: [
    name,
    { name: "Type", type: "string", cell: (o) => str(o.type) },
    { name: "Data", type: "integer", cell: (o) => Object.keys(o.data ?? {}).length },
    age,
  ],
  namespaces: [
    name,
    { name: "Status", type: "string", cell: (o) => str(get(o, "status.phase")) },
    age,
  ],
  persistentvolumeclaims: [
    name,
    { name: "Status", type: "string", cell: (o) => str(get(o, "status.phase")) },
    { name: "Volume", type: "string", cell: (o) => str(get(o, "spec.volumeName")) },
    { name: "Capacity", type: "string", cell: (o) => str(get(o, "status.capacity.storage")) },
    {
      name: "Access Modes",
      type: "string",
      cell: (o) => ((get(o, "spec.accessModes") ?? []) as string[]).join(","),
    },
    { name: "StorageClass", type: "string", cell: (o) => str(get(o, "spec.storageClassName")) },
    age,
  ],
};

/** A Table of `objects`; `include` is the `includeObject` parameter (default Metadata). */
export function toTable(
  resource: string,
  objects: KubeObject[],
  resourceVersion: string,
  include = "Metadata",
): KubeObject {
  const columns = COLUMNS[resource] ?? [name, age];
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion },
    columnDefinitions: columns.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? "",
      description: "",
      priority: c.priority ?? 0,
    })),
    rows: objects.map((o) => ({
      cells: columns.map((c) => c.cell(o)),
      ...(include === "None" ? {} : {
        object: include === "Object"
          ? o
          : { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata },
      }),
    })),
  };
}
