/**
 * What the real tier needs from the host besides the embedded cluster's tools: Debian's
 * containerd, runc, CNI plugins, docker-registry, htpasswd (apache2-utils) and iproute2, and Go
 * to build the Kubernetes components. Installed with apt-get when missing (as root).
 *
 * @module
 */
import { ensureClusterPrerequisites } from "../cluster/prerequisites.ts";

/** Program → Debian package. */
export const REAL_PROGRAMS: Record<string, string> = {
  containerd: "containerd",
  runc: "runc",
  "docker-registry": "docker-registry",
  htpasswd: "apache2-utils",
  ip: "iproute2",
  tar: "tar",
  ldd: "libc-bin",
};

/** Checks the host (the CNI plugins' directory too) and installs what is missing. */
export async function ensureRealPrerequisites(
  options: { install: boolean; log?: (line: string) => void },
): Promise<void> {
  await ensureClusterPrerequisites({
    ...options,
    programs: REAL_PROGRAMS,
    files: { "/usr/lib/cni/bridge": "containernetworking-plugins" },
  });
  const go = await new Deno.Command("go", { args: ["version"], stdout: "null", stderr: "null" })
    .output().then((o) => o.success, () => false);
  if (!go) {
    throw new Error(
      "The real-Kubernetes tier builds its components with Go (1.24 or newer), and `go` is not " +
        "on PATH. Install Go, then run the command again.",
    );
  }
}
