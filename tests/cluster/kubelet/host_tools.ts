/**
 * The host programs the kubelet runs pods with, found once on PATH. Children get absolute paths
 * because they run with the container's environment, whose PATH means nothing on the host.
 *
 * @module
 */

/** Absolute paths of the host programs pods are built from. */
export interface HostTools {
  /** Sandboxes each container (mount, pid, ipc and uts namespaces, `--die-with-parent`). */
  bwrap: string;
  /** Holds a pod's network namespace (`unshare --net`) and a container's private mounts. */
  unshare: string;
  /** Joins a pod's network namespace, and a running container's namespaces for exec. */
  nsenter: string;
  /** A static busybox: the busybox images' only binary, `cat` for the namespace holders and
   * `sysctl` for a pod's namespaced sysctls. */
  busybox: string;
  /** iproute2's ip: the pod network's bridge and veth pairs. */
  ip: string;
  /** The POSIX shell that mounts a container's overlays before starting bwrap. */
  sh: string;
  /** Mounts the overlays, inside the container's private mount namespace. */
  mount: string;
  /** The host's node, copied into the actions-runner image's externals. */
  node: string | undefined;
  /** The host's C compiler, which builds the distroless image's static `/app`. */
  cc: string;
  /** Listens for the cluster's registry in the pod network (pod_network.ts); needed only with a
   * registry. */
  socat: string | undefined;
}

const REQUIRED = ["bwrap", "unshare", "nsenter", "busybox", "sh", "mount", "ip"] as const;

/** Finds the kubelet's host programs; throws naming the missing ones and the packages to install. */
export function findHostTools(
  path = Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin",
): HostTools {
  const find = (name: string) => findOnPath(name, path);
  const found = Object.fromEntries(REQUIRED.map((name) => [name, find(name)]));
  const missing = REQUIRED.filter((name) => !found[name]);
  if (missing.length > 0) {
    throw new Error(
      `The local cluster's kubelet cannot run pods: ${missing.join(", ")} not found on PATH. ` +
        "Install them (Debian: apt-get install bubblewrap busybox-static util-linux iproute2).",
    );
  }
  return {
    ...(found as Record<(typeof REQUIRED)[number], string>),
    node: find("node"),
    cc: find("cc") ?? "cc",
    socat: find("socat"),
  };
}

/** The absolute path of `name` in the first directory of `path` that has it, or undefined. */
export function findOnPath(name: string, path: string): string | undefined {
  return path.split(":").filter((dir) => dir.startsWith("/")).map((dir) => `${dir}/${name}`)
    .find(isExecutable);
}

/** Whether `path` is an executable regular file. */
export function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}
