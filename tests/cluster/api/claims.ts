/**
 * PersistentVolumeClaims bound at once to a host directory under the state dir, as a
 * provisioner with an immediate-binding storage class would; the kubelet mounts that directory
 * wherever a pod uses the claim.
 *
 * @module
 */
import type { KubeObject, ObjectStore } from "./store.ts";

function claimDirectory(stateDir: string, uid: string): string {
  return `${stateDir}/api/claims/pvc-${uid}`;
}

/** Makes the claim's directory and marks the claim Bound to a volume named after it. */
export async function bindClaim(
  store: ObjectStore,
  stateDir: string,
  claim: KubeObject,
): Promise<void> {
  const { namespace = "", name = "", uid = "" } = claim.metadata;
  await Deno.mkdir(claimDirectory(stateDir, uid), { recursive: true, mode: 0o777 });
  store.update("persistentvolumeclaims", namespace, name, (c) => {
    const spec = c.spec as Record<string, unknown>;
    spec.volumeName = `pvc-${uid}`;
    spec.storageClassName ??= "local-path";
    const requests = (spec.resources as { requests?: Record<string, string> })?.requests ?? {};
    c.metadata.annotations = {
      ...c.metadata.annotations,
      "pv.kubernetes.io/bind-completed": "yes",
    };
    c.status = {
      phase: "Bound",
      accessModes: spec.accessModes,
      capacity: { storage: requests.storage },
    };
    return c;
  });
}

/** The host directory of a bound claim, or undefined. */
export function claimHostPath(
  store: ObjectStore,
  stateDir: string,
  namespace: string,
  name: string,
): string | undefined {
  const claim = store.get("persistentvolumeclaims", namespace, name);
  const bound = (claim?.status as { phase?: string } | undefined)?.phase === "Bound";
  return bound && claim?.metadata.uid ? claimDirectory(stateDir, claim.metadata.uid) : undefined;
}

/** Removes a deleted claim's directory and everything in it. */
export async function releaseClaim(stateDir: string, claim: KubeObject): Promise<void> {
  await Deno.remove(claimDirectory(stateDir, claim.metadata.uid ?? ""), { recursive: true })
    .catch(() => {});
}
