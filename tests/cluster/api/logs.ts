/**
 * `GET /api/v1/namespaces/{ns}/pods/{name}/log`: a container's log as `text/plain`, streamed
 * (chunked) and, with `follow`, kept open until the container ends. Reading is the kubelet's
 * work; this module checks the request as the API server does and maps kubelet errors to
 * Status answers (400 while the container is waiting to start).
 *
 * @module
 */
import { RuntimeError } from "../contract.ts";
import type { ControlPlane } from "./control.ts";
import { findPod, flag, resolveContainer } from "./pod_target.ts";
import type { ResourceRoute } from "./routes.ts";
import { badRequest, runtimeFailure } from "./status.ts";

function nonNegative(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw badRequest(`${name} must be a non-negative integer, got "${raw}"`);
  }
  return value;
}

/** Serves a pods/log request. */
export function serveLogs(control: ControlPlane, route: ResourceRoute, url: URL): Response {
  const params = url.searchParams;
  const namespace = route.namespace ?? "";
  const pod = findPod(control.store, namespace, route.name ?? "");
  const container = resolveContainer(pod, params.get("container"), true);
  const tailLines = nonNegative(params, "tailLines");
  const sinceSeconds = nonNegative(params, "sinceSeconds");
  const sinceTime = params.get("sinceTime") ??
    (sinceSeconds === undefined
      ? undefined
      : new Date(Date.now() - sinceSeconds * 1000).toISOString());
  if (sinceTime !== undefined && Number.isNaN(Date.parse(sinceTime))) {
    throw badRequest(`sinceTime must be an RFC 3339 time, got "${sinceTime}"`);
  }
  try {
    const stream = control.runtime.logs(namespace, route.name ?? "", container, {
      follow: flag(params, "follow"),
      previous: flag(params, "previous"),
      ...(tailLines !== undefined ? { tailLines } : {}),
      ...(sinceTime !== undefined ? { sinceTime } : {}),
    });
    return new Response(stream, { headers: { "content-type": "text/plain" } });
  } catch (error) {
    if (error instanceof RuntimeError) throw runtimeFailure(error.code, error.message);
    throw error;
  }
}
