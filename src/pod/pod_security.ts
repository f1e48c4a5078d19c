/**
 * Pods the Pod Security "restricted" standard admits: every container kubehook creates (the job
 * pod's init containers, job container, services and sidecars, a container step's container or
 * pod) gets what the standard requires wherever nobody set it — no privilege escalation, all
 * capabilities dropped, a non-root user, the runtime's default seccomp profile. What the template
 * or options set explicitly stays: a template that asks for more than the standard allows is
 * refused by the API server, whose refusal kube/errors.ts explains control by control.
 *
 * @example
 * ```ts
 * const pod = restrictPod(
 *   { spec: { containers: [{ name: "job", image: "node:20" }] } },
 *   { uid: 1001, gid: 1001 },
 * );
 * pod.spec?.securityContext?.runAsUser; // 1001
 * ```
 * @module
 */
import type { V1Container, V1Pod, V1SecurityContext } from "@kubernetes/client-node";

/** The user a container runs as when nothing else says. */
export interface NonRootUser {
  uid: number;
  gid: number;
}

/** Fills in, in place, what "restricted" requires of `pod` and its containers. */
export function restrictPod(pod: V1Pod, user: NonRootUser): V1Pod {
  const spec = pod.spec!;
  const containers = [
    ...spec.initContainers ?? [],
    ...spec.containers ?? [],
    ...(spec.ephemeralContainers ?? []) as V1Container[],
  ];
  const podContext = spec.securityContext ?? {};
  podContext.runAsNonRoot ??= true;
  podContext.seccompProfile ??= { type: "RuntimeDefault" };
  // A root image with runAsNonRoot alone does not start: give a user where none is chosen.
  if (podContext.runAsUser === undefined && containers.some((c) => !c.securityContext?.runAsUser)) {
    podContext.runAsUser = user.uid;
    podContext.runAsGroup ??= user.gid;
  }
  spec.securityContext = podContext;
  for (const container of containers) restrictContainer(container);
  return pod;
}

/** Fills in what "restricted" requires of one container (e.g. an ephemeral container added later,
 * whose pod already has its pod-level settings). */
export function restrictContainer(container: V1Container): V1Container {
  const context: V1SecurityContext = container.securityContext ?? {};
  context.allowPrivilegeEscalation ??= false;
  const drop = context.capabilities?.drop ?? [];
  if (!drop.includes("ALL")) {
    context.capabilities = { ...context.capabilities, drop: [...drop, "ALL"] };
  }
  container.securityContext = context;
  return container;
}

/** The namespace label Pod Security admission enforces a standard by. */
export const POD_SECURITY_ENFORCE_LABEL = "pod-security.kubernetes.io/enforce";

/** The standard pods are made for: the setting, or with `auto` the one the namespace enforces
 * (`enforced`, its label; undefined when it has none or it cannot be read). */
export function podSecurityFor(
  setting: "auto" | "baseline" | "restricted",
  enforced: string | undefined,
): "baseline" | "restricted" {
  if (setting !== "auto") return setting;
  return enforced === "restricted" ? "restricted" : "baseline";
}
