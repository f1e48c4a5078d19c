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

/** A log-drop fault: the stream errors after `bytes` bytes, so the connection breaks mid-body
 * (the client sees a cut transfer, not an end). */
function cutAfter(stream: ReadableStream<Uint8Array>, bytes: number): ReadableStream<Uint8Array> {
  let left = bytes;
  return stream.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        if (chunk.length >= left) {
          if (left > 0) controller.enqueue(chunk.subarray(0, left));
          controller.error(
            new Error("local cluster: a log-drop fault cut this log stream on purpose"),
          );
          return;
        }
        left -= chunk.length;
        controller.enqueue(chunk);
      },
    }),
  );
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
    const follow = flag(params, "follow");
    const stream = control.runtime.logs(namespace, route.name ?? "", container, {
      follow,
      previous: flag(params, "previous"),
      timestamps: flag(params, "timestamps"),
      ...(tailLines !== undefined ? { tailLines } : {}),
      ...(sinceTime !== undefined ? { sinceTime } : {}),
    });
    const drop = follow ? control.options.faults.takeLogDrop() : undefined;
    return new Response(drop === undefined ? stream : cutAfter(stream, drop), {
      headers: { "content-type": "text/plain" },
    });
  } catch (error) {
    if (error instanceof RuntimeError) throw runtimeFailure(error.code, error.message);
    throw error;
  }
}
