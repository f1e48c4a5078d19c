/**
 * Request paths, understood the way the API server's request-info resolver does: which group,
 * resource, namespace, name and subresource a URL names, and whether it is a watch. Anything that
 * is not a resource path is a non-resource URL (discovery, OpenAPI, health).
 *
 * @module
 */
import type { Resource } from "../contract.ts";

/** A request against a resource. */
export interface ResourceRoute {
  kind: "resource";
  group: string;
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  watch: boolean;
}

/** A request to anything else (`/version`, `/openapi/v3`...). */
export interface NonResourceRoute {
  kind: "nonresource";
  path: string;
}

/** The core resources this cluster stores, and which of them live in namespaces. */
export const CORE_RESOURCES: Record<Resource, { namespaced: boolean }> = {
  namespaces: { namespaced: false },
  pods: { namespaced: true },
  secrets: { namespaced: true },
  events: { namespaced: true },
  persistentvolumeclaims: { namespaced: true },
};

/** Resolves a URL into the route it names. */
export function resolveRoute(url: URL): ResourceRoute | NonResourceRoute {
  const parts = url.pathname.split("/").filter((p) => p !== "").map(decodeURIComponent);
  const watchParam = ["true", "1"].includes(url.searchParams.get("watch") ?? "");
  let rest: string[];
  let group: string;
  if (parts[0] === "api" && parts[1] === "v1" && parts.length > 2) {
    group = "";
    rest = parts.slice(2);
  } else if (parts[0] === "apis" && parts.length > 3) {
    group = parts[1];
    rest = parts.slice(3);
  } else {
    return { kind: "nonresource", path: url.pathname };
  }
  let watch = watchParam;
  if (rest[0] === "watch") {
    watch = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource] = rest;
  if (!resource || rest.length > 3) return { kind: "nonresource", path: url.pathname };
  // `GET /api/v1/namespaces/x` names the namespace object itself, not a namespace scope.
  return {
    kind: "resource",
    group,
    resource,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(subresource !== undefined ? { subresource } : {}),
    watch,
  };
}
