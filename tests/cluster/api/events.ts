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

/** Who reports an event, and about which part of the pod. */
export interface EventSource {
  /** "kubelet" unless given (the scheduler is "default-scheduler"). */
  component?: string;
  /** A container of the pod, as kubelet names it: `spec.containers{name}`. */
  fieldPath?: string;
}

/** Stores one Event about `pod` in the pod's namespace; a repeat of one already stored (same
 * object, part, source, type, reason and message) counts up that one instead, as client-go's event
 * recorder does. */
export function recordPodEvent(
  store: ObjectStore,
  pod: V1Pod | KubeObject,
  type: "Normal" | "Warning",
  reason: string,
  message: string,
  { component = "kubelet", fieldPath }: EventSource = {},
): void {
  const meta = pod.metadata ?? {};
  const namespace = meta.namespace ?? "default";
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const index = recorded.get(store) ?? new Map<string, string>();
  recorded.set(store, index);
  const same = JSON.stringify([namespace, meta.uid, fieldPath, component, type, reason, message]);
  const repeated = index.get(same);
  // The event may be gone since (namespace deletion): then it is recorded anew.
  if (
    repeated && store.update("events", namespace, repeated, (e) => ({
      ...e,
      count: (e.count as number) + 1,
      lastTimestamp: now,
    }))
  ) return;
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
      ...(fieldPath ? { fieldPath } : {}),
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
  index.set(same, store.create("events", namespace, event).metadata.name!);
}

/** Per store, the event each repeatable event was recorded as (by everything that makes two the
 * same), so a repeat is found without reading every event. */
const recorded = new WeakMap<ObjectStore, Map<string, string>>();
