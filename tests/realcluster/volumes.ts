/**
 * The real tier's storage: a provisioner that binds every new PersistentVolumeClaim to a hostPath
 * PersistentVolume of its own under the cluster's state directory (as a local-path provisioner
 * with immediate binding does), so pods may use claims as on the embedded cluster. It watches the
 * claims until stopped.
 *
 * @module
 */
import type { V1PersistentVolume, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { KubeClient } from "../../src/kube/client.ts";
import { KubeApiError } from "../../src/kube/errors.ts";

/** Starts provisioning; call the result to stop. */
export function startProvisioner(
  access: { server: string; token: string; caPem: string },
  volumesDir: string,
): () => Promise<void> {
  const client = new KubeClient({ ...access, namespace: "default", source: "the real tier" });
  const stop = new AbortController();
  const provision = async (claim: V1PersistentVolumeClaim) => {
    const { name = "", namespace = "", uid = "" } = claim.metadata ?? {};
    if (claim.spec?.volumeName) return;
    const volume: V1PersistentVolume = {
      apiVersion: "v1",
      kind: "PersistentVolume",
      metadata: { name: `pvc-${uid}` },
      spec: {
        capacity: { storage: claim.spec?.resources?.requests?.storage ?? "1Gi" },
        accessModes: claim.spec?.accessModes ?? ["ReadWriteOnce"],
        persistentVolumeReclaimPolicy: "Retain",
        hostPath: { path: `${volumesDir}/pvc-${uid}`, type: "DirectoryOrCreate" },
        claimRef: { namespace, name, uid },
        ...(claim.spec?.storageClassName ? { storageClassName: claim.spec.storageClassName } : {}),
      },
    };
    try {
      await client.create("/api/v1/persistentvolumes", volume, stop.signal);
    } catch (error) {
      if (!(error instanceof KubeApiError && error.status === 409)) throw error;
    }
  };
  const running = (async () => {
    while (!stop.signal.aborted) {
      try {
        const list = await client.request<
          { items: V1PersistentVolumeClaim[]; metadata: { resourceVersion: string } }
        >("GET", "/api/v1/persistentvolumeclaims", { signal: stop.signal });
        for (const claim of list.items) await provision(claim);
        for await (
          const event of client.watch<V1PersistentVolumeClaim>(
            "/api/v1/persistentvolumeclaims",
            { resourceVersion: list.metadata.resourceVersion },
            stop.signal,
          )
        ) {
          if (event.type === "ADDED") await provision(event.object);
        }
      } catch {
        // Stopped, or the watch ended: list again.
        if (!stop.signal.aborted) await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  })();
  return async () => {
    stop.abort();
    await running;
    client.close();
  };
}

/** The host directory a bound claim stands for, or undefined when it is not bound yet. */
export async function claimHostPath(
  access: { server: string; token: string; caPem: string },
  namespace: string,
  claimName: string,
): Promise<string | undefined> {
  const client = new KubeClient({ ...access, namespace, source: "the real tier" });
  try {
    const claim = await client.get<V1PersistentVolumeClaim>(
      `/api/v1/namespaces/${namespace}/persistentvolumeclaims/${claimName}`,
    );
    if (claim.status?.phase !== "Bound" || !claim.spec?.volumeName) return undefined;
    const volume = await client.get<V1PersistentVolume>(
      `/api/v1/persistentvolumes/${claim.spec.volumeName}`,
    );
    return volume.spec?.hostPath?.path;
  } finally {
    client.close();
  }
}
