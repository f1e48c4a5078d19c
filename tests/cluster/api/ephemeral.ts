/**
 * `pods/{name}/ephemeralcontainers`: the one way to add a container to a running pod, as
 * `kubectl debug` and kubehook's container steps do. GET answers the pod; PATCH (any of the
 * three patch types) and PUT change `spec.ephemeralContainers` and nothing else of the pod — the
 * real API server takes only that field from the request — after defaulting and validating the
 * new entries. The kubelet then starts what was added.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { ControlPlane } from "./control.ts";
import { defaultContainer } from "./defaults.ts";
import { applyPatch } from "./patch.ts";
import { json, readJson } from "./rest.ts";
import type { ResourceRoute } from "./routes.ts";
import { methodNotAllowed, notFound } from "./status.ts";
import type { KubeObject } from "./store.ts";
import { validateEphemeralUpdate } from "./validation.ts";

type Json = Record<string, unknown>;

/** Serves the subresource for the pod `route` names. */
export async function serveEphemeralContainers(
  control: ControlPlane,
  route: ResourceRoute & { name: string },
  request: Request,
): Promise<Response> {
  const namespace = route.namespace ?? "";
  const current = control.store.get("pods", namespace, route.name);
  if (!current) throw notFound("pods", route.name);
  if (request.method === "GET") return json(current);
  let requested: KubeObject;
  if (request.method === "PATCH") {
    requested = applyPatch(
      current,
      request.headers.get("content-type") ?? "",
      await readJson(request),
    );
  } else if (request.method === "PUT") {
    requested = await readJson(request) as KubeObject;
  } else {
    throw methodNotAllowed(`${request.method} is not supported on pods/ephemeralcontainers`);
  }
  const next = structuredClone(current);
  const known = new Set(ephemeralOf(current).map((c) => c.name));
  const containers = ephemeralOf(requested).map((c) => {
    const copy = structuredClone(c);
    if (!known.has(copy.name)) defaultContainer(copy);
    return copy;
  });
  (next.spec as Json).ephemeralContainers = containers;
  validateEphemeralUpdate(current, next);
  const updated = control.store.update("pods", namespace, route.name, (pod) => {
    (pod.spec as Json).ephemeralContainers = containers;
    return pod;
  });
  if (!updated) throw notFound("pods", route.name);
  control.runtime.addEphemeralContainers(updated as V1Pod);
  return json(updated);
}

function ephemeralOf(pod: KubeObject): Json[] {
  const list = (pod.spec as Json | undefined)?.ephemeralContainers;
  return Array.isArray(list) ? list as Json[] : [];
}
