/**
 * Event objects about pods, as the scheduler and the kubelet write them (`kubectl get events`
 * and clients waiting on a pod read their reasons: Scheduled, FailedScheduling, Pulling, Failed,
 * Started, Killing...).
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { KubeObject, ObjectStore } from "./store.ts";

/** The node name this cluster's single kubelet reports. */
export const NODE_NAME = "kubehook-local";

/** Stores one Event about `pod` in the pod's namespace. */
export function recordPodEvent(
  store: ObjectStore,
  pod: V1Pod | KubeObject,
  type: "Normal" | "Warning",
  reason: string,
  message: string,
  component = "kubelet",
): void {
  const meta = pod.metadata ?? {};
  const namespace = meta.namespace ?? "default";
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const suffix = Array.from(
    crypto.getRandomValues(new Uint8Array(8)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const fromKubelet = component === "kubelet";
  const event: KubeObject = {
    kind: "Event",
    apiVersion: "v1",
    metadata: { name: `${meta.name}.${suffix}`, namespace },
    involvedObject: {
      kind: "Pod",
      namespace,
      name: meta.name,
      uid: meta.uid,
      apiVersion: "v1",
      resourceVersion: meta.resourceVersion,
    },
    reason,
    message,
    source: fromKubelet ? { component, host: NODE_NAME } : { component },
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
    type,
    eventTime: null,
    reportingComponent: component,
    reportingInstance: fromKubelet ? NODE_NAME : "",
  };
  store.create("events", namespace, event);
}
