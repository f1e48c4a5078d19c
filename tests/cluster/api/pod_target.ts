/**
 * What exec, attach and log requests name: the pod, the container (defaulted as kubectl and the
 * API server do) and, for exec/attach, the command and stream flags. Checks the real server
 * makes before any stream opens answer with its 400/404 Status.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { ProcessRequest } from "../contract.ts";
import { badRequest, notFound } from "./status.ts";
import type { ObjectStore } from "./store.ts";

const DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container";

/** Reads a boolean query flag: `true` or `1` (kubectl omits false ones). */
export function flag(params: URLSearchParams, name: string): boolean {
  return ["true", "1"].includes((params.get(name) ?? "").toLowerCase());
}

/** The pod, or 404. */
export function findPod(store: ObjectStore, namespace: string, name: string): V1Pod {
  const pod = store.get("pods", namespace, name) as V1Pod | undefined;
  if (!pod) throw notFound("pods", name);
  return pod;
}

/** The container a request means: the named one (which must exist), else the
 * default-container annotation, else the only (or, for exec/attach, the first) container. */
export function resolveContainer(
  pod: V1Pod,
  requested: string | null,
  requireNameWhenMany: boolean,
): string {
  const names = [
    ...(pod.spec?.initContainers ?? []).map((c) => c.name),
    ...(pod.spec?.containers ?? []).map((c) => c.name),
    ...(pod.spec?.ephemeralContainers ?? []).map((c) => c.name),
  ];
  const podName = pod.metadata?.name ?? "";
  if (requested) {
    if (!names.includes(requested)) {
      throw badRequest(`container ${requested} is not valid for pod ${podName}`);
    }
    return requested;
  }
  const annotated = pod.metadata?.annotations?.[DEFAULT_CONTAINER];
  if (annotated && names.includes(annotated)) return annotated;
  const containers = (pod.spec?.containers ?? []).map((c) => c.name);
  if (requireNameWhenMany && containers.length > 1) {
    throw badRequest(
      `a container name must be specified for pod ${podName}, choose one of: ` +
        `[${containers.join(" ")}]`,
    );
  }
  return containers[0];
}

/** Parses an exec/attach request for `pod` and makes the real server's checks. */
export function processRequest(
  pod: V1Pod,
  params: URLSearchParams,
  kind: "exec" | "attach",
): ProcessRequest & { stdout: boolean; stderr: boolean } {
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") {
    throw badRequest(
      `cannot ${kind} ${kind === "exec" ? "into" : "to"} a container in a completed pod; ` +
        `current phase is ${phase}`,
    );
  }
  if (!pod.spec?.nodeName) {
    throw badRequest(`pod ${pod.metadata?.name} does not have a host assigned`);
  }
  const tty = flag(params, "tty");
  const request = {
    namespace: pod.metadata?.namespace ?? "",
    pod: pod.metadata?.name ?? "",
    container: resolveContainer(pod, params.get("container"), false),
    command: params.getAll("command"),
    stdin: flag(params, "stdin"),
    stdout: flag(params, "stdout"),
    // A terminal merges stderr into stdout.
    stderr: flag(params, "stderr") && !tty,
    tty,
  };
  if (!request.stdin && !request.stdout && !request.stderr) {
    throw badRequest("you must specify at least 1 of stdin, stdout, stderr");
  }
  if (kind === "exec" && request.command.length === 0) {
    throw badRequest("you must specify at least one command for the container");
  }
  return request;
}
