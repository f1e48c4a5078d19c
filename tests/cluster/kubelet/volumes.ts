/**
 * A pod's volumes on the host and a container's mounts of them: emptyDir (a directory shared by
 * the pod's containers, mode 0777, group-owned by `fsGroup` with the setgid bit when one is set),
 * persistentVolumeClaim (the claim's host directory from the store), secret (one file per key,
 * or per `items` entry, always mounted read-only); `subPath`/`subPathExpr` and `readOnly` per
 * mount.
 *
 * @module
 */
import type { V1Container, V1Pod, V1Secret, V1Volume } from "@kubernetes/client-node";
import type { ClusterStore } from "../contract.ts";
import { ContainerConfigError, expand } from "./container_env.ts";
import { secretValue } from "./pull_secrets.ts";

/** A volume ready on the host. */
export interface PodVolume {
  path: string;
  readOnly: boolean;
}

/** One bind mount into a container. */
export interface Bind {
  source: string;
  target: string;
  readOnly: boolean;
}

/** A volume cannot be set up (kubelet's FailedMount event); the pod waits and retries. */
export class VolumeError extends Error {
  constructor(volume: string, message: string) {
    super(`MountVolume.SetUp failed for volume "${volume}" : ${message}`);
    this.name = "VolumeError";
  }
}

/** Sets up every volume of `pod` under `dir`. */
export async function preparePodVolumes(
  pod: V1Pod,
  dir: string,
  store: ClusterStore,
): Promise<Map<string, PodVolume>> {
  const namespace = pod.metadata?.namespace ?? "default";
  const fsGroup = pod.spec?.securityContext?.fsGroup;
  const volumes = new Map<string, PodVolume>();
  for (const volume of pod.spec?.volumes ?? []) {
    const path = `${dir}/${volume.name}`;
    if (volume.emptyDir) {
      await Deno.mkdir(path, { recursive: true });
      await Deno.chmod(path, fsGroup === undefined ? 0o777 : 0o2777);
      if (fsGroup !== undefined) await Deno.chown(path, 0, fsGroup);
      volumes.set(volume.name, { path, readOnly: false });
    } else if (volume.persistentVolumeClaim) {
      const { claimName, readOnly = false } = volume.persistentVolumeClaim;
      const hostPath = store.claimHostPath(namespace, claimName);
      if (!hostPath) {
        throw new VolumeError(
          volume.name,
          `persistentvolumeclaim "${claimName}" not found or not bound`,
        );
      }
      volumes.set(volume.name, { path: hostPath, readOnly });
    } else if (volume.secret) {
      await writeSecretVolume(volume, path, namespace, store, fsGroup);
      volumes.set(volume.name, { path, readOnly: true });
    } else {
      throw new VolumeError(
        volume.name,
        "the local cluster supports emptyDir, persistentVolumeClaim and secret volumes only",
      );
    }
  }
  return volumes;
}

/** The bind mounts of `container`, parents before children; creates missing subPath directories. */
export async function containerBinds(
  container: V1Container,
  volumes: ReadonlyMap<string, PodVolume>,
  vars: ReadonlyMap<string, string>,
): Promise<Bind[]> {
  const binds: Bind[] = [];
  for (const mount of container.volumeMounts ?? []) {
    const volume = volumes.get(mount.name);
    if (!volume) {
      throw new ContainerConfigError(
        `cannot find volume "${mount.name}" to mount into container "${container.name}"`,
      );
    }
    const subPath = mount.subPathExpr ? expand(mount.subPathExpr, vars) : mount.subPath ?? "";
    if (subPath.startsWith("/") || subPath.split("/").includes("..")) {
      throw new ContainerConfigError(
        `subPath "${subPath}" of volume mount "${mount.name}" must be a relative path without ".."`,
      );
    }
    const source = subPath ? `${volume.path}/${subPath}` : volume.path;
    if (subPath) await makeSubPath(volume.path, subPath);
    binds.push({
      source,
      target: mount.mountPath,
      readOnly: volume.readOnly || mount.readOnly === true,
    });
  }
  return binds.sort((a, b) => depth(a.target) - depth(b.target));
}

async function writeSecretVolume(
  volume: V1Volume,
  path: string,
  namespace: string,
  store: ClusterStore,
  fsGroup: number | undefined,
): Promise<void> {
  const source = volume.secret!;
  const name = source.secretName ?? "";
  const secret = store.get<V1Secret>("secrets", namespace, name);
  await Deno.mkdir(path, { recursive: true });
  if (!secret) {
    if (source.optional) return;
    throw new VolumeError(volume.name, `secret "${name}" not found`);
  }
  const keys = [
    ...new Set([
      ...Object.keys(secret.data ?? {}),
      ...Object.keys((secret as { stringData?: object }).stringData ?? {}),
    ]),
  ];
  const items = source.items ?? keys.map((key) => ({ key, path: key, mode: undefined }));
  for (const item of items) {
    const value = secretValue(secret, item.key);
    if (value === undefined) {
      if (source.optional) continue;
      throw new VolumeError(
        volume.name,
        `couldn't find key ${item.key} in Secret ${namespace}/${name}`,
      );
    }
    const file = `${path}/${item.path}`;
    await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(file, value);
    await Deno.chmod(file, item.mode ?? source.defaultMode ?? 0o644);
    if (fsGroup !== undefined) await Deno.chown(file, 0, fsGroup);
  }
}

/** kubelet creates a missing subPath with the volume root's mode, so fsGroup and non-root users
 * can write there as they can in the volume. */
async function makeSubPath(root: string, subPath: string): Promise<void> {
  const mode = (await Deno.stat(root)).mode! & 0o7777;
  let path = root;
  for (const part of subPath.split("/").filter(Boolean)) {
    path = `${path}/${part}`;
    const exists = await Deno.lstat(path).then(() => true, () => false);
    if (!exists) {
      await Deno.mkdir(path);
      await Deno.chmod(path, mode);
    }
  }
}

function depth(path: string): number {
  return path.split("/").filter(Boolean).length;
}
