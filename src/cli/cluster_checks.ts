/**
 * The checks `kubehook doctor` makes against the cluster: the API server answers and accepts the
 * credentials, the namespace exists, every permission kubehook needs is held, the runner pod is
 * there. Each returns table rows whose detail says what was found and whose fix says what to change.
 *
 * @example
 * ```ts
 * const api = await checkApi(client);
 * const rows = [api.row];
 * if (api.reachable) rows.push(...await checkPermissions(client, "ci", api.user));
 * ```
 * @module
 */
import type { V1Namespace, V1Pod } from "@kubernetes/client-node";
import type { KubeClient } from "../kube/client.ts";
import { explainForbidden, KubeApiError } from "../kube/errors.ts";
import { namespacePath, podsPath } from "../kube/paths.ts";
import { POD_SECURITY_ENFORCE_LABEL, podSecurityFor } from "../pod/pod_security.ts";
import type { Settings } from "../runner/settings.ts";
import { type Permission, REQUIRED_PERMISSIONS, reviewAccess, roleRule } from "./permissions.ts";
import type { CheckRow } from "./table.ts";

/** Where to ask who the caller is (Kubernetes 1.28+; every authenticated user may). */
const SELF_SUBJECT_REVIEWS_PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews";

/** The API server check and what it learnt. */
export interface ApiCheck {
  row: CheckRow;
  /** Whether the server answered and accepted the credentials; the other checks need it. */
  usable: boolean;
  /** The Kubernetes user name of the credentials, when the server told it. */
  user?: string;
}

/** Asks `/version` and who the caller is: the second call is what proves the credentials, since
 * `/version` may be open to anonymous users. */
export async function checkApi(client: KubeClient): Promise<ApiCheck> {
  const { access } = client;
  try {
    const version = await client.get<{ gitVersion?: string }>("/version");
    const user = await whoAmI(client);
    const who = user ? `as "${user}"` : `kubeconfig user "${access.user ?? "(none)"}"`;
    return {
      row: {
        check: "API server",
        result: "ok",
        detail: `${access.server}, Kubernetes ${version?.gitVersion ?? "(version unknown)"}\n` +
          `from ${access.source}, ${who}`,
      },
      usable: true,
      user,
    };
  } catch (error) {
    return {
      row: { check: "API server", result: "FAIL", detail: (error as Error).message },
      usable: false,
    };
  }
}

/** The caller's user name from a SelfSubjectReview, or from the 403 of a server that does not
 * allow one; undefined on servers older than 1.28. A 401 (bad credentials) is thrown. */
async function whoAmI(client: KubeClient): Promise<string | undefined> {
  type Review = { apiVersion: string; kind: string; status?: { userInfo?: { username?: string } } };
  try {
    const review = await client.create<Review>(SELF_SUBJECT_REVIEWS_PATH, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "SelfSubjectReview",
    });
    return review?.status?.userInfo?.username;
  } catch (error) {
    if (!(error instanceof KubeApiError) || error.status === 401) throw error;
    return error.status === 403 ? explainForbidden(error, "")?.user : undefined;
  }
}

/** Whether the namespace exists, and the Pod Security standard it enforces against the one
 * kubehook makes pods for; a 403 is no failure (kubehook need not read namespaces). */
export async function checkNamespace(
  client: KubeClient,
  namespace: string,
  podSecurity: Settings["podSecurity"] = "auto",
): Promise<CheckRow> {
  const check = `namespace "${namespace}"`;
  try {
    const found = await client.get<V1Namespace>(namespacePath(namespace));
    const exists = `exists (${found.status?.phase ?? "phase unknown"})`;
    const enforced = found.metadata?.labels?.[POD_SECURITY_ENFORCE_LABEL];
    if (enforced === "restricted" && podSecurity === "baseline") {
      return {
        check,
        result: "FAIL",
        detail: `${exists}; it enforces the Pod Security standard "restricted", and ` +
          "KUBEHOOK_POD_SECURITY=baseline makes pods it refuses.",
        fix: "Set KUBEHOOK_POD_SECURITY=restricted (or auto).",
      };
    }
    const made = podSecurityFor(podSecurity, enforced);
    return {
      check,
      result: "ok",
      detail: `${exists}; Pod Security enforced: ${enforced ?? "none"}, kubehook makes pods for ` +
        `"${made}" (KUBEHOOK_POD_SECURITY=${podSecurity})`,
    };
  } catch (error) {
    if (error instanceof KubeApiError && error.status === 403) {
      return {
        check,
        result: "skip",
        detail: "cannot check: these credentials may not read namespaces (kubehook does not " +
          "need to);\nthe RBAC checks below show whether it can work there." +
          (podSecurity === "auto"
            ? "\nKUBEHOOK_POD_SECURITY=auto cannot read its Pod Security label either: pods are " +
              'made for "baseline"; set KUBEHOOK_POD_SECURITY=restricted where the namespace ' +
              "enforces restricted."
            : ""),
      };
    }
    if (error instanceof KubeApiError && error.status === 404) {
      return {
        check,
        result: "FAIL",
        detail: `namespace "${namespace}" does not exist.`,
        fix:
          `kubectl create namespace ${namespace}, or point ACTIONS_RUNNER_KUBERNETES_NAMESPACE ` +
          "(or the kubeconfig context's namespace) at the runners' namespace.",
      };
    }
    return { check, result: "FAIL", detail: (error as Error).message };
  }
}

/** One row per resource; one access review per verb, all at once. `user` (when known) is named in
 * the fix. */
export function checkPermissions(
  client: KubeClient,
  namespace: string,
  user: string | undefined,
  permissions: readonly Permission[] = REQUIRED_PERMISSIONS,
): Promise<CheckRow[]> {
  return Promise.all(permissions.map(async ({ resource, verbs, why, optional, resourceNames }) => {
    const check = `RBAC ${resource}${resourceNames ? ` ${resourceNames.join(",")}` : ""}`;
    const answers = await Promise.all(verbs.map(async (verb) => {
      try {
        const allowed = await reviewAccess(client, namespace, resource, verb, resourceNames?.[0]);
        return { verb, allowed };
      } catch (error) {
        return { verb, allowed: false, error: error as Error };
      }
    }));
    const refused = answers.find((a) => a.error)?.error;
    if (refused) {
      return {
        check,
        result: "warn",
        detail: `cannot check: the access review was refused: ${refused.message}`,
      };
    }
    const missing = answers.filter((a) => !a.allowed).map((a) => a.verb);
    if (missing.length === 0) return { check, result: "ok", detail: verbs.join(", ") };
    const streaming = resource === "pods/exec"
      ? "\nA websocket exec needs both get and create on pods/exec (Kubernetes 1.35+ checks " +
        "create on the upgrade too)."
      : "";
    return {
      check,
      result: optional ? "warn" : "FAIL",
      detail: `missing ${missing.join(", ")} in namespace "${namespace}": ${why}`,
      fix: `add this rule to the Role bound to ${
        user ? `"${user}"` : "the runner's service account"
      } in namespace "${namespace}":\n${
        roleRule(resource, missing, resourceNames).replace(/^/gm, "  ")
      }${streaming}`,
    };
  }));
}

/** Whether the runner pod is in the namespace, and on a node when volume mode needs one. */
export async function checkRunnerPod(
  client: KubeClient,
  namespace: string,
  name: string | undefined,
  settings: Settings | undefined,
): Promise<CheckRow> {
  const check = "runner pod";
  if (!name) {
    return {
      check,
      result: "warn",
      detail: "ACTIONS_RUNNER_POD_NAME is not set here: fine for a check from outside a runner " +
        "pod, but the hooks refuse to run without it.",
      fix: "in the runner pod, set it from metadata.name (valueFrom.fieldRef; ARC does this).",
    };
  }
  // Volume mode on the runner's node cannot place the job pod without the runner pod's node.
  const needsNode = settings?.workspace === "volume" && !settings.useKubeScheduler;
  try {
    const pod = await client.get<V1Pod>(podsPath(namespace, name));
    const node = pod.spec?.nodeName;
    if (needsNode && !node) {
      return {
        check,
        result: "FAIL",
        detail: `pod "${name}" is not scheduled to a node yet, and volume mode places the job ` +
          "pod on the runner pod's node.",
      };
    }
    return {
      check,
      result: "ok",
      detail: `pod "${name}" found (${pod.status?.phase ?? "phase unknown"}${
        node ? `, node ${node}` : ""
      }): the job's objects will be owned by it`,
    };
  } catch (error) {
    if (!(error instanceof KubeApiError && error.status === 404)) {
      return { check, result: "FAIL", detail: (error as Error).message };
    }
    const where = `no pod "${name}" in namespace "${namespace}"`;
    const fix = `run kubehook in the runner pod named by ACTIONS_RUNNER_POD_NAME, with ` +
      "ACTIONS_RUNNER_KUBERNETES_NAMESPACE (or the context) set to its namespace.";
    return needsNode
      ? {
        check,
        result: "FAIL",
        detail: `${where}: volume mode places the job pod on the runner pod's node.`,
        fix,
      }
      : {
        check,
        result: "warn",
        detail: `${where}: jobs run, but their objects get no owner, so Kubernetes does not ` +
          "remove them if the runner pod dies.",
        fix,
      };
  }
}
