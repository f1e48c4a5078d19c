/**
 * The API server's request pipeline, the same for requests arriving over the internal HTTP
 * server and for raw WebSocket upgrades: authentication by bearer token, request counting,
 * injected api-error faults, authorization, then dispatch to discovery, OpenAPI, health, faults,
 * stats, reviews, REST, logs or exec/attach. Every failure leaves as a Status.
 *
 * @module
 */
import type { Resource } from "../contract.ts";
import {
  forbiddenMessage,
  isAllowed,
  type ResourceAttributes,
  type User,
  verbOf,
} from "./authz.ts";
import type { ControlPlane } from "./control.ts";
import { discoveryDocument } from "./discovery.ts";
import { serveEphemeralContainers } from "./ephemeral.ts";
import { serveExec } from "./exec.ts";
import type { RawUpgrade } from "./front.ts";
import type { Faults } from "./faults.ts";
import { serveLogs } from "./logs.ts";
import { openApiDocument } from "./openapi.ts";
import { decodeReview, PROTOBUF } from "./protobuf.ts";
import { json, readJson, serveResource } from "./rest.ts";
import { accessReview, rulesReview } from "./reviews.ts";
import { requestKey, type RequestStats } from "./stats.ts";
import { CORE_RESOURCES, resolveRoute, type ResourceRoute } from "./routes.ts";
import { ApiError, failure, forbidden, notFound, serverError, unauthorized } from "./status.ts";

/** What the pipeline needs. */
export interface HandlerContext {
  control: ControlPlane;
  faults: Faults;
  stats: RequestStats;
  users: User[];
  /** `https://127.0.0.1:PORT`, for discovery's server address. */
  url: () => string;
}

const PUBLIC = new Set(["/healthz", "/readyz", "/livez", "/version"]);
const FAULTS_PATH = "/_cluster/faults";
const STATS_PATH = "/_cluster/stats";

function authenticate(context: HandlerContext, request: Request): User | undefined {
  const header = request.headers.get("authorization") ?? "";
  const token = header.match(/^Bearer\s+(\S+)$/i)?.[1];
  return context.users.find((u) => u.token === token);
}

/** The cluster's own endpoints belong to the admin context alone. */
function requireAdmin(user: User, what: "faults" | "stats"): void {
  if (user.identity !== "admin") {
    throw forbidden(`only the admin context may manage ${what} (${user.name} may not)`, what);
  }
}

async function serveFaults(context: HandlerContext, request: Request, user: User) {
  requireAdmin(user, "faults");
  switch (request.method) {
    case "GET":
      return json(context.faults.list());
    case "DELETE":
      context.faults.clear();
      return json([]);
    case "POST": {
      const added = context.faults.add(await readJson(request));
      for (const fault of added) {
        if (fault.kind === "evict") {
          await context.control.evict(fault.namespace ?? "default", fault.pod, fault.message);
        }
      }
      return json(added, 201);
    }
  }
  throw failure(405, "MethodNotAllowed", `use GET, POST or DELETE on ${FAULTS_PATH}`);
}

function serveStats(context: HandlerContext, request: Request, user: User) {
  requireAdmin(user, "stats");
  switch (request.method) {
    case "GET":
      return json(context.stats.snapshot());
    case "DELETE":
      context.stats.reset();
      return json(context.stats.snapshot());
  }
  throw failure(405, "MethodNotAllowed", `use GET or DELETE on ${STATS_PATH}`);
}

function attributes(route: ResourceRoute, method: string): ResourceAttributes {
  const subresource = route.subresource;
  // exec/attach/log are read with GET on a named pod; the verb is get (create for POST).
  const verb = verbOf(method, route.name !== undefined, route.watch);
  return {
    verb,
    group: route.group,
    resource: route.resource,
    ...(subresource ? { subresource } : {}),
    ...(route.namespace !== undefined ? { namespace: route.namespace } : {}),
    ...(route.name !== undefined ? { name: route.name } : {}),
  };
}

function authorize(user: User, attrs: ResourceAttributes, upgrade: boolean): void {
  const verbs = [attrs.verb];
  // Since Kubernetes 1.35 a WebSocket exec/attach (an HTTP GET) also needs `create`.
  if (upgrade && (attrs.subresource === "exec" || attrs.subresource === "attach")) {
    verbs.push("create");
  }
  for (const verb of verbs) {
    const check = { ...attrs, verb };
    if (!isAllowed(user, check)) {
      throw forbidden(forbiddenMessage(user, check), attrs.resource, attrs.name);
    }
  }
}

async function dispatch(
  context: HandlerContext,
  request: Request,
  upgrade: RawUpgrade | undefined,
): Promise<Response | null> {
  const url = new URL(request.url);
  const path = url.pathname;
  if (PUBLIC.has(path) && path !== "/version") return new Response("ok");
  if (path === "/version") return json(discoveryDocument(path, ""));
  const user = authenticate(context, request);
  if (!user) throw unauthorized();
  if (path === FAULTS_PATH) return await serveFaults(context, request, user);
  if (path === STATS_PATH) return serveStats(context, request, user);
  const route = resolveRoute(url);
  context.stats.countRequest(requestKey(request.method, route));
  const injected = context.faults.takeApiError(request.method, path);
  if (injected !== undefined) {
    // Carried out first: the answer is lost, not the work.
    if (injected.applied) {
      await (await routed(context, request, url, route, user, upgrade))?.body?.cancel();
    }
    throw serverError(
      injected.status,
      `injected fault: ${request.method} ${path} failed on purpose`,
    );
  }
  return await routed(context, request, url, route, user, upgrade);
}

/** Serves a request that passed authentication and the fault check. */
async function routed(
  context: HandlerContext,
  request: Request,
  url: URL,
  route: ReturnType<typeof resolveRoute>,
  user: User,
  upgrade: RawUpgrade | undefined,
): Promise<Response | null> {
  const path = url.pathname;
  if (route.kind === "nonresource") {
    const hostPort = new URL(context.url()).host;
    const document = path.startsWith("/openapi/")
      ? openApiDocument(path)
      : discoveryDocument(path, hostPort);
    if (document === undefined) {
      throw failure(404, "NotFound", "the server could not find the requested resource");
    }
    return json(document);
  }

  authorize(user, attributes(route, request.method), upgrade !== undefined);
  if (route.group === "authorization.k8s.io") {
    if (request.method !== "POST") {
      throw failure(405, "MethodNotAllowed", `only POST (create) is served on ${route.resource}`);
    }
    const rules = route.resource === "selfsubjectrulesreviews";
    if (rules || route.resource === "selfsubjectaccessreviews") {
      const body = request.headers.get("content-type")?.startsWith(PROTOBUF)
        ? decodeReview(new Uint8Array(await request.arrayBuffer()), rules)
        : await readJson(request);
      return json(rules ? rulesReview(user, body) : accessReview(user, body), 201);
    }
  }
  if (route.group !== "" || !(route.resource in CORE_RESOURCES)) {
    throw failure(404, "NotFound", "the server could not find the requested resource");
  }
  const resourceRoute = route as ResourceRoute & { resource: Resource };
  if (route.subresource === undefined) {
    return await serveResource(context.control, resourceRoute, request, url);
  }
  if (route.resource === "pods" && route.name !== undefined) {
    if (route.subresource === "log") return serveLogs(context.control, resourceRoute, url);
    if (route.subresource === "ephemeralcontainers") {
      return await serveEphemeralContainers(
        context.control,
        { ...resourceRoute, name: route.name },
        request,
      );
    }
    if (route.subresource === "exec" || route.subresource === "attach") {
      return await serveExec(context, resourceRoute, request, upgrade);
    }
  }
  throw notFound(`${route.resource}/${route.subresource}`, route.name ?? "");
}

/** Handles one request; null means an upgrade took over the connection. */
export async function handle(
  context: HandlerContext,
  request: Request,
  upgrade?: RawUpgrade,
): Promise<Response | null> {
  try {
    return await dispatch(context, request, upgrade);
  } catch (error) {
    if (error instanceof ApiError) return error.toResponse();
    console.error(`local cluster: ${request.method} ${request.url} failed:`, error);
    return serverError(500, String(error)).toResponse();
  }
}
