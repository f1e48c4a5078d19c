/**
 * Request counting, so `deno task bench` can show how many API requests and exec sessions a hook
 * call costs. With the admin token, `GET /_cluster/stats` answers a {@link StatsSnapshot};
 * `DELETE /_cluster/stats` sets every count back to zero. Requests to `/_cluster/*` and
 * unauthenticated ones (health checks) are not counted.
 *
 * ```ts
 * await cluster.fetch("/_cluster/stats", { method: "DELETE" });
 * // ... one hook call ...
 * const stats = await (await cluster.fetch("/_cluster/stats")).json();
 * stats.requests["create selfsubjectaccessreviews.authorization.k8s.io"]; // undefined: none
 * ```
 *
 * @module
 */
import { verbOf } from "./authz.ts";
import type { NonResourceRoute, ResourceRoute } from "./routes.ts";

/** The counts since the server started or since the last reset. */
export interface StatsSnapshot {
  /** All counted requests, including the exec/attach upgrades. */
  total: number;
  /** Requests by `"<verb> <resource>[.<group>][/<subresource>]"` (the authorizer's verb, so a
   * WebSocket exec is `get pods/exec`), or `"<METHOD> <path>"` for non-resource URLs. */
  requests: Record<string, number>;
  /** exec and attach sessions that started a process in a container. */
  execSessions: number;
}

/** The key a request is counted under. */
export function requestKey(method: string, route: ResourceRoute | NonResourceRoute): string {
  if (route.kind === "nonresource") return `${method} ${route.path}`;
  const verb = verbOf(method, route.name !== undefined, route.watch);
  const group = route.group === "" ? "" : `.${route.group}`;
  const subresource = route.subresource === undefined ? "" : `/${route.subresource}`;
  return `${verb} ${route.resource}${group}${subresource}`;
}

/** The running counts. */
export class RequestStats {
  #requests = new Map<string, number>();
  #execSessions = 0;

  countRequest(key: string): void {
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
  }

  countExecSession(): void {
    this.#execSessions++;
  }

  snapshot(): StatsSnapshot {
    const requests = Object.fromEntries([...this.#requests].sort(([a], [b]) => a.localeCompare(b)));
    const total = [...this.#requests.values()].reduce((sum, n) => sum + n, 0);
    return { total, requests, execSessions: this.#execSessions };
  }

  reset(): void {
    this.#requests.clear();
    this.#execSessions = 0;
  }
}
