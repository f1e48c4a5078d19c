/**
 * The scheduler's NodePorts filter: a pod fits the node only when none of its containers'
 * `hostPort`s is taken by a pod already on the node — the same protocol and port, on the same
 * host IP or where either side listens on every address (`0.0.0.0`, the default).
 *
 * @example
 * ```ts
 * const web = {
 *   spec: { containers: [{ name: "c", ports: [{ containerPort: 80, hostPort: 8080 }] }] },
 * };
 * hostPortsTaken(web, [web]); // true
 * ```
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";

/** The scheduler's words for a pod that does not fit for its ports. */
export const PORTS_TAKEN = "0/1 nodes are available: 1 node(s) didn't have free ports for the " +
  "requested pod ports. preemption: 0/1 nodes are available: 1 No preemption victims found for " +
  "incoming pod.";

/** Whether one of `pod`'s host ports is in use by one of `onNode`. */
export function hostPortsTaken(pod: V1Pod, onNode: readonly V1Pod[]): boolean {
  const wanted = hostPorts(pod);
  if (wanted.length === 0) return false;
  const used = onNode.flatMap(hostPorts);
  return wanted.some((w) =>
    used.some((u) =>
      u.port === w.port && u.protocol === w.protocol &&
      (u.ip === w.ip || u.ip === "0.0.0.0" || w.ip === "0.0.0.0")
    )
  );
}

function hostPorts(pod: V1Pod): { port: number; protocol: string; ip: string }[] {
  return (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? [])
    .filter((p) => (p.hostPort ?? 0) > 0)
    .map((p) => ({ port: p.hostPort!, protocol: p.protocol ?? "TCP", ip: p.hostIP || "0.0.0.0" }));
}
