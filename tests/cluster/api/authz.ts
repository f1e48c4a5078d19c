/**
 * Who may do what on the local cluster: three bearer-token identities (the kubeconfig contexts
 * `admin`, `runner` and `restricted`) and an RBAC-style decision per request, with the
 * Kubernetes wording for denials.
 *
 * `runner` holds what kubehook's documented Role grants; `restricted` is the same without
 * `pods/exec`. Their rules hold in every namespace (as if the Role were bound in each) but never
 * at cluster scope.
 *
 * @module
 */

/** The three identities, named after their kubeconfig contexts. */
export type Identity = "admin" | "runner" | "restricted";

/** An authenticated caller. */
export interface User {
  identity: Identity;
  /** The user name Kubernetes would report (`system:serviceaccount:default:runner`). */
  name: string;
  token: string;
}

/** What a request does, as the authorizer sees it. */
export interface ResourceAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  /** Undefined at cluster scope. */
  namespace?: string;
  name?: string;
}

const RUNNER_RULES: Record<string, string[]> = {
  "pods": ["get", "list", "watch", "create", "delete"],
  "pods/exec": ["get", "create"],
  "pods/log": ["get"],
  "secrets": ["get", "list", "create", "delete"],
  "events": ["list", "watch"],
};

/** What every authenticated user may do (system:basic-user): ask what it may do. */
const SELF_REVIEWS = new Set(["selfsubjectaccessreviews", "selfsubjectrulesreviews"]);

/** Makes the three users with fresh random tokens. */
export function createUsers(): Record<Identity, User> {
  const token = () => {
    const bytes = crypto.getRandomValues(new Uint8Array(24));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  };
  return {
    admin: { identity: "admin", name: "kubernetes-admin", token: token() },
    runner: {
      identity: "runner",
      name: "system:serviceaccount:default:runner",
      token: token(),
    },
    restricted: {
      identity: "restricted",
      name: "system:serviceaccount:default:restricted",
      token: token(),
    },
  };
}

/** The rules a user holds, resource (with `/subresource`) to verbs. */
export function rulesOf(identity: Identity): Record<string, string[]> {
  if (identity === "admin") return { "*": ["*"] };
  if (identity === "runner") return RUNNER_RULES;
  const { "pods/exec": _exec, ...rest } = RUNNER_RULES;
  return rest;
}

/** The resource name a rule matches: `pods` or `pods/exec`. */
function fullResource(attrs: ResourceAttributes): string {
  return attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
}

/** Whether `user` may perform `attrs`. */
export function isAllowed(user: User, attrs: ResourceAttributes): boolean {
  if (user.identity === "admin") return true;
  if (attrs.group === "authorization.k8s.io" && SELF_REVIEWS.has(attrs.resource)) {
    return attrs.verb === "create";
  }
  if (attrs.group !== "" || attrs.namespace === undefined) return false;
  return rulesOf(user.identity)[fullResource(attrs)]?.includes(attrs.verb) ?? false;
}

/** The denial message exactly as the API server words it. */
export function forbiddenMessage(user: User, attrs: ResourceAttributes): string {
  const groupResource = attrs.group ? `${attrs.resource}.${attrs.group}` : attrs.resource;
  const subject = attrs.name ? `${groupResource} "${attrs.name}"` : groupResource;
  const scope = attrs.namespace === undefined
    ? "at the cluster scope"
    : `in the namespace "${attrs.namespace}"`;
  return `${subject} is forbidden: User "${user.name}" cannot ${attrs.verb} resource ` +
    `"${fullResource(attrs)}" in API group "${attrs.group}" ${scope}`;
}

/** The verb Kubernetes derives from an HTTP request. */
export function verbOf(method: string, hasName: boolean, watch: boolean): string {
  switch (method) {
    case "GET":
    case "HEAD":
      return watch ? "watch" : hasName ? "get" : "list";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return hasName ? "delete" : "deletecollection";
    default:
      return method.toLowerCase();
  }
}
