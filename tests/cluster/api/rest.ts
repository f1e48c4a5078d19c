/**
 * REST verbs on the stored resources: get, list (as a `…List` or a Table), watch, create,
 * patch, delete and deletecollection, with the query parameters and error answers of the real
 * API server. Pod subresources (log, exec, attach) are served elsewhere.
 *
 * @module
 */
import type { Resource } from "../contract.ts";
import type { ControlPlane } from "./control.ts";
import { applyPatch, checkPodUpdate } from "./patch.ts";
import { podDecodingProblem } from "./pod_schema.ts";
import { decodeObject, PROTOBUF } from "./protobuf.ts";
import type { ResourceRoute } from "./routes.ts";
import { parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import { badRequest, failure, methodNotAllowed, notFound } from "./status.ts";
import type { KubeObject } from "./store.ts";
import { toTable, wantsTable } from "./table.ts";
import { kindOf } from "./validation.ts";
import { watchResponse } from "./watch.ts";

const TOP_LEVEL = new Set(["apiVersion", "kind", "metadata", "spec", "status"]);
const EXTRA_FIELDS: Partial<Record<Resource, string[]>> = {
  secrets: ["data", "stringData", "type", "immutable"],
  events: ["involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp"]
    .concat(["count", "type", "eventTime", "series", "action", "related", "reportingComponent"])
    .concat(["reportingInstance"]),
};

/** A JSON response. */
export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** Reads a JSON request body; 400 with the parse error when it is not JSON. */
export async function readJson(
  request: Request,
  allowEmpty = false,
): Promise<Record<string, unknown>> {
  const text = await request.text();
  if (allowEmpty && text.trim() === "") return {};
  try {
    const body = JSON.parse(text);
    if (body === null || typeof body !== "object") throw new SyntaxError("not a JSON object");
    return body;
  } catch (error) {
    throw badRequest(`the request body is not JSON: ${(error as Error).message}`);
  }
}

function withoutTypeMeta(o: KubeObject): KubeObject {
  const { kind: _kind, apiVersion: _apiVersion, ...rest } = o;
  return rest as KubeObject;
}

/** `fieldValidation=Strict` (kubectl's default) refuses unknown top-level fields. */
function checkFields(resource: Resource, body: KubeObject, url: URL): void {
  if ((url.searchParams.get("fieldValidation") ?? "").toLowerCase() !== "strict") return;
  const known = new Set([...TOP_LEVEL, ...(EXTRA_FIELDS[resource] ?? [])]);
  const unknown = Object.keys(body).filter((k) => !known.has(k));
  if (unknown.length) {
    throw badRequest(
      `strict decoding error: ${unknown.map((k) => `unknown field "${k}"`).join(", ")}`,
    );
  }
}

function gracePeriod(url: URL, options: Record<string, unknown>): number | undefined {
  const raw = url.searchParams.get("gracePeriodSeconds") ?? options.gracePeriodSeconds;
  if (raw === undefined || raw === null || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw badRequest(`gracePeriodSeconds must be a non-negative integer, got "${raw}"`);
  }
  return value;
}

/** Serves a request on a stored resource (no subresource). */
export async function serveResource(
  control: ControlPlane,
  route: ResourceRoute & { resource: Resource },
  request: Request,
  url: URL,
): Promise<Response> {
  const { store } = control;
  const { resource, name } = route;
  const namespace = route.namespace ?? "";
  const params = url.searchParams;
  const table = wantsTable(request.headers.get("accept"));
  const include = params.get("includeObject") ?? "Metadata";
  const present = (objects: KubeObject[]) =>
    toTable(resource, objects, String(store.revision), include);

  if (name === undefined) {
    const labels = parseLabelSelector(params.get("labelSelector"));
    const fields = parseFieldSelector(params.get("fieldSelector"));
    const selected = () =>
      store.list(resource, route.namespace).filter((o) => labels(o.metadata.labels) && fields(o));
    switch (request.method) {
      case "GET":
        if (route.watch) {
          return watchResponse(store, {
            resource,
            namespace: route.namespace,
            labels,
            fields,
            resourceVersion: params.get("resourceVersion"),
            timeoutSeconds: Number(params.get("timeoutSeconds") ?? 0) || undefined,
            bookmarks: params.get("allowWatchBookmarks") === "true",
            sendInitialEvents: params.get("sendInitialEvents") === "true",
            present: table ? (o) => present([o]) : undefined,
          });
        }
        if (table) return json(present(selected()));
        return json({
          kind: `${kindOf(resource)}List`,
          apiVersion: "v1",
          metadata: { resourceVersion: String(store.revision) },
          items: selected().map(withoutTypeMeta),
        });
      case "POST": {
        const body = request.headers.get("content-type")?.startsWith(PROTOBUF)
          ? decodeObject(new Uint8Array(await request.arrayBuffer()), resource)
          : await readJson(request) as KubeObject;
        body.metadata ??= {};
        if (body.kind !== undefined && body.kind !== kindOf(resource)) {
          throw badRequest(
            `the object's kind "${body.kind}" does not match the resource "${resource}" ` +
              `(expected "${kindOf(resource)}")`,
          );
        }
        if (body.metadata.namespace && namespace && body.metadata.namespace !== namespace) {
          throw badRequest(
            "the namespace of the provided object does not match the namespace sent on the request",
          );
        }
        checkFields(resource, body, url);
        const undecodable = resource === "pods" ? podDecodingProblem(body) : undefined;
        if (undecodable) throw badRequest(undecodable);
        return json(control.create(resource, namespace, body), 201);
      }
      case "DELETE": {
        const deleted = [];
        for (const o of selected()) {
          deleted.push(
            await control.delete(resource, namespace, o.metadata.name ?? "", gracePeriod(url, {})),
          );
        }
        return json({
          kind: `${kindOf(resource)}List`,
          apiVersion: "v1",
          metadata: { resourceVersion: String(store.revision) },
          items: deleted,
        });
      }
    }
    throw methodNotAllowed(`${request.method} is not supported on a collection of ${resource}`);
  }

  switch (request.method) {
    case "GET": {
      const object = store.get(resource, namespace, name);
      if (!object) throw notFound(resource, name);
      return json(table ? present([object]) : object);
    }
    case "DELETE": {
      const options = await readJson(request, true);
      return json(await control.delete(resource, namespace, name, gracePeriod(url, options)));
    }
    case "PATCH": {
      const contentType = request.headers.get("content-type") ?? "";
      const body = await readJson(request);
      const current = store.get(resource, namespace, name);
      if (!current) throw notFound(resource, name);
      const patched = applyPatch(current, contentType, body);
      if (resource === "pods") checkPodUpdate(current, patched);
      const updated = store.update(resource, namespace, name, () => patched);
      if (!updated) throw notFound(resource, name);
      return json(updated);
    }
    case "PUT":
      throw failure(
        405,
        "MethodNotAllowed",
        `the local cluster does not support update (PUT) of ${resource}; use PATCH`,
      );
  }
  throw methodNotAllowed(`${request.method} is not supported on ${resource} "${name}"`);
}
