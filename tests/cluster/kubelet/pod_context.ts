/**
 * What the pieces of one pod's lifecycle (image pulls, container runs) share: the pod, the
 * kubelet's services, status publishing, events, and an abort signal that fires when the pod is
 * being deleted or evicted, ending every wait and back-off at once.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { ClusterStore } from "../contract.ts";
import type { HostTools } from "./host_tools.ts";
import type { ImageStore } from "./images.ts";

/** One pod's view of the kubelet. */
export interface PodContext {
  pod: V1Pod;
  store: ClusterStore;
  images: ImageStore;
  tools: HostTools;
  /** Aborted when the pod's containers are being stopped for good. */
  signal: AbortSignal;
  /** Writes the pod's current status to the store. */
  publish(): void;
  /** Records an Event about the pod, from the kubelet; about one of its containers when
   * `container` names it. */
  event(type: "Normal" | "Warning", reason: string, message: string, container?: string): void;
}

/** kubelet's back-off: 10 s doubling to 5 min. `attempt` counts from 0. */
export function backOffSeconds(attempt: number): number {
  return Math.min(10 * 2 ** attempt, 300);
}

/** Waits `ms`; resolves false at once when `signal` aborts (and leaves no timer behind). */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** `name_namespace(uid)`, how kubelet names a pod in messages. */
export function podKey(pod: V1Pod): string {
  return `${pod.metadata?.name}_${pod.metadata?.namespace ?? "default"}(${
    pod.metadata?.uid ?? ""
  })`;
}
