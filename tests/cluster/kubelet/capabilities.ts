/**
 * The capabilities and root filesystem a container's `securityContext` gives it, as containerd
 * and runc apply them: the runtime's default set (the one Docker also gives), minus `drop`, plus
 * `add`, everything when `privileged`; `readOnlyRootFilesystem` leaves the image's files
 * read-only while volumes stay as mounted. The sandbox (container_process.ts) applies this to the
 * container's own process; exec sessions keep the kubelet's.
 *
 * @example
 * ```ts
 * containerCapabilities({ capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] } });
 * // ["CAP_NET_BIND_SERVICE"]
 * containerCapabilities({ privileged: true }); // "ALL"
 * ```
 * @module
 */
import type { V1SecurityContext } from "@kubernetes/client-node";

/** containerd's default capabilities (its `oci.WithDefaultCapabilities`). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/** The container's capabilities: "ALL" or the names, `CAP_`-prefixed as the kernel calls them. */
export function containerCapabilities(
  context: V1SecurityContext | undefined,
): "ALL" | string[] {
  if (context?.privileged) return "ALL";
  const named = (list: string[] | undefined) =>
    (list ?? []).map((c) => c.toUpperCase()).map((c) => c.startsWith("CAP_") ? c : `CAP_${c}`);
  const add = named(context?.capabilities?.add);
  if (add.includes("CAP_ALL")) return "ALL";
  const drop = named(context?.capabilities?.drop);
  const kept = drop.includes("CAP_ALL")
    ? []
    : DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c));
  return [...new Set([...kept, ...add])];
}
