/**
 * Who may do what on the local cluster: four bearer-token identities (the kubeconfig contexts
 * `admin`, `runner`, `builder` and `restricted`) and an RBAC-style decision per request, with the
 * Kubernetes wording for denials.
 *
 * `runner` is the ServiceAccount of `examples/rbac.yaml`, holding the rules of its Role — read
 * from the shipped file, so the tests prove the manifest users apply — bound in namespace
 * `default` only, as its RoleBinding would be there; `builder` holds the same Role with its
 * commented "Dockerfile actions" rules uncommented, as a user who sets up builds does;
 * `restricted` is the runner without `pods/exec`. None holds anything in another namespace or at
 * cluster scope.
 *
 * @module
 */
import { parseAllDocuments } from "yaml";

/** The identities, named after their kubeconfig contexts. */
export type Identity = "admin" | "runner" | "builder" | "restricted";

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
  resourceNames?: string[];
}

/** The line that opens the Role's commented rules for Dockerfile builds. */
const BUILDS_MARKER = "# --- Dockerfile actions";

/** The shipped manifest's ServiceAccount name and its Role's rules, as written; with `builds`,
 * with the commented "Dockerfile actions" rules in force. */
export function readRbacManifest(
  options: { builds?: boolean } = {},
): { account: string; rules: Rule[] } {
  let text = Deno.readTextFileSync(RBAC_MANIFEST);
  if (options.builds) text = withBuildRules(text);
  const objects = parseAllDocuments(text).map((d) => d.toJS());
  const account = objects.find((o) => o?.kind === "ServiceAccount")?.metadata?.name;
  const role = objects.find((o) => o?.kind === "Role");
  if (!account || !role) {
    throw new Error(`${RBAC_MANIFEST.pathname} must hold a ServiceAccount and a Role`);
  }
  return { account, rules: role.rules ?? [] };
}

/** `text` with the rule lines of its "Dockerfile actions" block uncommented (`  # - apiGroups`
 * and their indented fields), its explanation left as comments. */
export function withBuildRules(text: string): string {
  const lines = text.split("\n");
  const marker = lines.findIndex((l) => l.includes(BUILDS_MARKER));
  if (marker < 0) {
    throw new Error(`${RBAC_MANIFEST.pathname} has no "${BUILDS_MARKER}" block of rules`);
  }
  for (let i = marker + 1; i < lines.length && /^\s*#/.test(lines[i]); i++) {
    lines[i] = lines[i].replace(/^(\s*)# ((?:- | {2}).*)$/, "$1$2");
  }
  return lines.join("\n");
}

/** The core-group rules of the Role, with the build rules or without. */
const RUNNER = readRbacManifest();
const BUILDER_RULES = core(readRbacManifest({ builds: true }).rules);
const RUNNER_RULES = core(RUNNER.rules);
const RESTRICTED_RULES = RUNNER_RULES
  .map((rule) => ({ ...rule, resources: rule.resources?.filter((r) => r !== "pods/exec") }))
  .filter((rule) => (rule.resources ?? []).length > 0);

function core(rules: Rule[]): Rule[] {
  return rules.filter((rule) => rule.apiGroups?.includes(""));
}

/** What every authenticated user may do (system:basic-user): ask what it may do. */
const SELF_REVIEWS = new Set(["selfsubjectaccessreviews", "selfsubjectrulesreviews"]);

/** Makes the users with fresh random tokens. */
export function createUsers(): Record<Identity, User> {
  const token = () => {
    const bytes = crypto.getRandomValues(new Uint8Array(24));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  };
  return {
    admin: { identity: "admin", name: "kubernetes-admin", token: token() },
    runner: {
      identity: "runner",
      name: `system:serviceaccount:${ROLE_NAMESPACE}:${RUNNER.account}`,
      token: token(),
    },
    builder: {
      identity: "builder",
      name: `system:serviceaccount:${ROLE_NAMESPACE}:kubehook-builder`,
      token: token(),
    },
    restricted: {
      identity: "restricted",
      name: `system:serviceaccount:${ROLE_NAMESPACE}:kubehook-restricted`,
      token: token(),
    },
  };
}

/** The core-group rules a user holds in the Role's namespace. */
export function rulesOf(identity: Exclude<Identity, "admin">): Rule[] {
  return { runner: RUNNER_RULES, builder: BUILDER_RULES, restricted: RESTRICTED_RULES }[identity];
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
  const resource = fullResource(attrs);
  return rulesOf(user.identity).some((rule) =>
    rule.resources?.includes(resource) && rule.verbs?.includes(attrs.verb) &&
    (!rule.resourceNames?.length ||
      (attrs.name !== undefined && rule.resourceNames.includes(attrs.name)))
  );
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
