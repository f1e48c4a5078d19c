/**
 * The local cluster's kubelet: runs the pods the API server stores as real processes in bwrap
 * sandboxes (one network namespace per pod, one overlay root per container) and reports their
 * status and events back through the store.
 *
 * @example
 * ```ts
 * const kubelet = createKubelet(store, { stateDir: "/tmp/cluster" });
 * kubelet.startPod(pod);
 * // ... later
 * await kubelet.shutdown();
 * ```
 * @module
 */
import type { ClusterStore, PodRuntime } from "../contract.ts";
import { Kubelet } from "./kubelet.ts";
import type { NodeRegistry } from "./registry_pull.ts";

export { HOST_IP } from "./kubelet.ts";
export type { NodeRegistry } from "./registry_pull.ts";

/** Creates the kubelet; it keeps image layers and pod sandboxes under `options.stateDir`, pulls
 * the images of `options.registry` (the cluster's registry) from it and lets pods reach it.
 * Throws when a host program it needs (bwrap, unshare, nsenter, busybox, sh, mount) is missing. */
export function createKubelet(
  store: ClusterStore,
  options: { stateDir: string; registry?: NodeRegistry },
): PodRuntime {
  return new Kubelet(store, options.stateDir, options.registry);
}
