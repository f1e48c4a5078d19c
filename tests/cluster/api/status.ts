/**
 * Kubernetes `Status` objects, the shape every API error takes on the wire, and {@link ApiError},
 * which carries one from wherever a request fails to the HTTP layer.
 *
 * ```ts
 * throw notFound("pods", "web");  // 404 {"kind":"Status",...,"message":"pods \"web\" not found"}
 * ```
 *
 * @module
 */

/** One reason a request was invalid, as `details.causes[]` lists it. */
export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

/** A `metav1.Status` as the API server sends it. */
export interface Status {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Success" | "Failure";
  message?: string;
  reason?: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
  };
  code: number;
}

/** A request failure that becomes a Status response. */
export class ApiError extends Error {
  constructor(readonly status: Status) {
    super(status.message);
    this.name = "ApiError";
  }

  /** The HTTP response for this error (JSON Status; `Retry-After` when the Status names one). */
  toResponse(): Response {
    return statusResponse(this.status);
  }
}

/** A JSON response carrying `status`, with `Retry-After` when the details ask for it. */
export function statusResponse(status: Status): Response {
  const headers = new Headers({ "content-type": "application/json" });
  const retry = status.details?.retryAfterSeconds;
  if (retry !== undefined) headers.set("retry-after", String(retry));
  return new Response(JSON.stringify(status), { status: status.code, headers });
}

/** A Failure Status error with the given HTTP code and reason. */
export function failure(
  code: number,
  reason: string,
  message: string,
  details?: Status["details"],
): ApiError {
  const status: Status = {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
  return new ApiError(status);
}

/** The Success Status that deletes of some objects (secrets, namespaces' contents) return. */
export function success(details?: Status["details"]): Status {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Success",
    ...(details ? { details } : {}),
    code: 200,
  };
}

/** 404: `pods "x" not found`. */
export function notFound(resource: string, name: string): ApiError {
  return failure(404, "NotFound", `${resource} "${name}" not found`, { name, kind: resource });
}

/** 409: `pods "x" already exists`. */
export function alreadyExists(resource: string, name: string): ApiError {
  return failure(409, "AlreadyExists", `${resource} "${name}" already exists`, {
    name,
    kind: resource,
  });
}

/** 409 Conflict, e.g. a resourceVersion precondition that no longer holds. */
export function conflict(resource: string, name: string, why: string): ApiError {
  return failure(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${resource} "${name}": ${why}`,
    {
      name,
      kind: resource,
    },
  );
}

/** 422: `Pod "x" is invalid: spec.containers[0].name: Required value`, one cause per field. */
export function invalid(kind: string, name: string, causes: StatusCause[]): ApiError {
  const parts = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const summary = parts.length === 1 ? parts[0] : `[${parts.join(", ")}]`;
  return failure(422, "Invalid", `${kind} "${name}" is invalid: ${summary}`, {
    name,
    kind,
    causes,
  });
}

/** 400 BadRequest with a message. */
export function badRequest(message: string): ApiError {
  return failure(400, "BadRequest", message);
}

/** 401 for requests without a known bearer token. */
export function unauthorized(): ApiError {
  return failure(401, "Unauthorized", "Unauthorized");
}

/** 403 with the authorizer's message (see authz.ts for its exact wording). */
export function forbidden(message: string, resource: string, name?: string): ApiError {
  return failure(403, "Forbidden", message, { ...(name ? { name } : {}), kind: resource });
}

/** 405 for verbs a resource does not support. */
export function methodNotAllowed(message: string): ApiError {
  return failure(405, "MethodNotAllowed", message);
}

/** 410: a watch or list asked for a resourceVersion older than the history kept. */
export function expired(requested: string, oldest: number): ApiError {
  return failure(410, "Expired", `too old resource version: ${requested} (${oldest})`);
}

/** The Status an injected or real server-side failure answers with (429, 500, 503, others). */
export function serverError(code: number, message: string): ApiError {
  if (code === 429) {
    return failure(429, "TooManyRequests", message, { retryAfterSeconds: 1 });
  }
  if (code === 503) return failure(503, "ServiceUnavailable", message);
  if (code === 500) return failure(500, "InternalError", `Internal error occurred: ${message}`);
  return failure(code, "Unknown", message);
}

/** The Status for a kubelet failure (`RuntimeError`): its code, with the matching reason. */
export function runtimeFailure(code: number, message: string): ApiError {
  if (code === 500) return serverError(500, message);
  const reasons: Record<number, string> = { 400: "BadRequest", 404: "NotFound", 409: "Conflict" };
  return failure(code, reasons[code] ?? "Unknown", message);
}
