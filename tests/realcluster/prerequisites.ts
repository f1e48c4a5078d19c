/**
 * What the real tier needs from the host besides the embedded cluster's tools: Debian's
 * containerd, runc, CNI plugins, docker-registry, htpasswd (apache2-utils), iproute2 and
 * iptables (the CNI portmap plugin's, inside the node only), the CA bundle of ca-certificates (the
 * Kaniko image's), and Go to build the Kubernetes components and Kaniko. Installed with apt-get
 * when missing (as root).
 *
 * @module
 */
import { testTier } from "../cluster/harness.ts";
import { ensureClusterPrerequisites } from "../cluster/prerequisites.ts";

/** Program → Debian package. */
export const REAL_PROGRAMS: Record<string, string> = {
  containerd: "containerd",
  runc: "runc",
  "docker-registry": "docker-registry",
  htpasswd: "apache2-utils",
  ip: "iproute2",
  iptables: "iptables",
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
    files: {
      "/usr/lib/cni/bridge": "containernetworking-plugins",
      "/etc/ssl/certs/ca-certificates.crt": "ca-certificates",
    },
  });
  const go = await new Deno.Command("go", { args: ["version"], stdout: "null", stderr: "null" })
    .output().then((o) => o.success, () => false);
  if (!go) {
    throw new Error(
      "The real-Kubernetes tier builds its components with Go (1.25 or newer), and `go` is not " +
        "on PATH. Install Go, then run the command again.",
    );
  }
}

/** Why the real tier's own tests do not run here, or undefined: they run only when asked for
 * (KUBEHOOK_TEST_CLUSTER=real: the first start builds Kubernetes, ~7 minutes on 2 cores), as
 * root, with Go. */
export async function realTierSkipReason(): Promise<string | undefined> {
  if (testTier() !== "real") {
    return "set KUBEHOOK_TEST_CLUSTER=real to test the real-Kubernetes tier (it builds Kubernetes " +
      "on first use)";
  }
  if (Deno.uid() !== 0) return "the real-Kubernetes tier runs only as root (namespaces, cgroups)";
  const go = await new Deno.Command("go", { args: ["version"], stdout: "null", stderr: "null" })
    .output().then((o) => o.success, () => false);
  if (!go) return "the real-Kubernetes tier is built with Go 1.25 or newer: put `go` on PATH";
  return undefined;
}
