/**
 * Who may do what on the local cluster: three bearer-token identities (the kubeconfig contexts
 * `admin`, `runner` and `restricted`) and an RBAC-style decision per request, with the
 * Kubernetes wording for denials.
 *
 * `runner` is the ServiceAccount of `examples/rbac.yaml`, holding the rules of its Role — read
 * from the shipped file, so the tests prove the manifest users apply — bound in namespace
 * `default` only, as its RoleBinding would be there; `restricted` is the same without
 * `pods/exec`. Neither holds anything in another namespace or at cluster scope.
 *
 * @module
 */
import { parseAllDocuments } from "yaml";

/** The three identities, named after their kubeconfig contexts. */
export type Identity = "admin" | "runner" | "restricted";

/** An authenticated caller. */
export interface User {
  identity: Identity;
  /** The user name Kubernetes would report (`system:serviceaccount:default:kubehook-runner`). */
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

/** The namespace the runner's Role is bound in (the kubeconfig contexts' namespace). */
export const ROLE_NAMESPACE = "default";

/** The shipped manifest: a ServiceAccount, a Role and a RoleBinding. */
const RBAC_MANIFEST = new URL("../../../examples/rbac.yaml", import.meta.url);

/** A Role rule as the manifest writes it. */
export interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
}

/** The shipped manifest's ServiceAccount name and its Role's rules, as written. */
export function readRbacManifest(): { account: string; rules: Rule[] } {
  const objects = parseAllDocuments(Deno.readTextFileSync(RBAC_MANIFEST)).map((d) => d.toJS());
  const account = objects.find((o) => o?.kind === "ServiceAccount")?.metadata?.name;
  const role = objects.find((o) => o?.kind === "Role");
  if (!account || !role) {
    throw new Error(`${RBAC_MANIFEST.pathname} must hold a ServiceAccount and a Role`);
  }
  return { account, rules: role.rules ?? [] };
}

/** The ServiceAccount's name and its Role's core-group rules (resource → verbs). */
function readRole(): { account: string; rules: Record<string, string[]> } {
  const { account, rules: manifest } = readRbacManifest();
  const rules: Record<string, string[]> = {};
  for (const rule of manifest) {
    if (!rule.apiGroups?.includes("")) continue;
    for (const resource of rule.resources ?? []) {
      rules[resource] = [...new Set([...(rules[resource] ?? []), ...(rule.verbs ?? [])])];
    }
  }
  return { account, rules };
}

const ROLE = readRole();

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
      name: `system:serviceaccount:${ROLE_NAMESPACE}:${ROLE.account}`,
      token: token(),
    },
    restricted: {
      identity: "restricted",
      name: `system:serviceaccount:${ROLE_NAMESPACE}:kubehook-restricted`,
      token: token(),
    },
  };
}

/** The rules a user holds, resource (with `/subresource`) to verbs. */
export function rulesOf(identity: Identity): Record<string, string[]> {
  if (identity === "admin") return { "*": ["*"] };
  if (identity === "runner") return ROLE.rules;
  const { "pods/exec": _exec, ...rest } = ROLE.rules;
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
  if (attrs.group !== "" || attrs.namespace !== ROLE_NAMESPACE) return false;
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
