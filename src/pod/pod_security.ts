/**
 * Pods the Pod Security "restricted" standard admits: every container kubehook creates (the job
 * pod's init containers, job container, services and sidecars, a container step's container or
 * pod) gets what the standard requires wherever nobody set it — no privilege escalation, all
 * capabilities dropped, a non-root user, the runtime's default seccomp profile. What the template
 * or options set explicitly stays: a template that asks for more than the standard allows is
 * refused by the API server, and {@link explainPodSecurityRefusal} says which control and field.
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

/** For a refusal by Pod Security admission (403 `violates PodSecurity "restricted:latest": ...`),
 * each control the pod fails with the fix, or undefined for any other refusal. */
export function explainPodSecurityRefusal(message: string): string | undefined {
  const found = /violates PodSecurity "([a-z]+)(?::[^"]*)?": (.*)$/s.exec(message);
  if (!found) return undefined;
  const [, level, list] = found;
  // "control (details), control (details), ...": split at the commas between controls.
  const controls: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < list.length; i++) {
    if (list[i] === "(") depth++;
    else if (list[i] === ")") depth--;
    else if (list[i] === "," && depth === 0) {
      controls.push(list.slice(start, i).trim());
      start = i + 1;
    }
  }
  controls.push(list.slice(start).trim());
  return `The namespace enforces the Pod Security standard "${level}", and the pod fails ` +
    `${controls.length === 1 ? "one control" : `${controls.length} controls`}:\n` +
    controls.map((c) => `  - ${c}`).join("\n") +
    `\n${
      level === "restricted"
        ? "Set KUBEHOOK_POD_SECURITY=restricted so kubehook makes its pods that way (it cannot " +
          "read the namespace's label with these credentials), and remove from the pod template " +
          "or the workflow's options what the list names (a root user, added capabilities, " +
          "privileges)."
        : "Remove from the pod template or the workflow's options what the list names " +
          "(privileged, host ports, host namespaces or paths)."
    }`;
}
