/**
 * Errors from talking to the Kubernetes API, worded for the person who has to fix them: which call
 * failed on which object, what the server said, and what to change (the missing RBAC rule for a
 * 403, each failed control of a Pod Security refusal, what to check when the server cannot be
 * reached).
 *
 * @example
 * ```ts
 * try {
 *   await client.create(podsPath("ci"), pod);
 * } catch (err) {
 *   if (err instanceof KubeApiError && err.status === 409) { ... }
 *   throw err; // the message already names the call, the object and the fix
 * }
 * ```
 *
 * @module
 */
import type { V1Status, V1StatusDetails } from "@kubernetes/client-node";
import type { KubeAccess } from "./config.ts";

/** A failed API call: an HTTP error status, or a failure Status from a watch or an exec. */
export class KubeApiError extends Error {
  /** HTTP status code (a watch ERROR or exec Status carries its own `code`). */
  readonly status: number;
  /** Machine-readable Status reason, e.g. `NotFound`, `AlreadyExists`, `Forbidden`. */
  readonly reason?: string;
  readonly details?: V1StatusDetails;
  readonly method: string;
  /** Request path without the query string. */
  readonly path: string;
  /** The server's own message (or the raw body when it was not a Status). */
  readonly serverMessage: string;

  constructor(method: string, path: string, status: number, body: V1Status | string | undefined) {
    const server = typeof body === "string" ? body.trim() : body?.message ?? "";
    const reason = typeof body === "object" ? body.reason : undefined;
    const details = typeof body === "object" ? body.details : undefined;
    const call = describeCall(method, path);
    let message = `Could not ${call.text}: ${status}${reason ? ` ${reason}` : ""}` +
      (server ? `: ${server}` : "");
    const fix = status === 403
      ? explainForbiddenMessage(server, call.namespace)?.text ?? explainPodSecurityRefusal(server)
      : status === 401
      ? "The API server rejected kubehook's credentials: refresh the token or client certificate " +
        "of the kubeconfig user (or the pod's service account token) and try again."
      : undefined;
    if (fix) message += `\n${fix}`;
    super(message);
    this.name = "KubeApiError";
    this.status = status;
    this.reason = reason;
    this.details = details;
    this.method = method;
    this.path = path;
    this.serverMessage = server;
  }
}

/** The API server could not be reached (DNS, TCP, TLS) even after retries. */
export class KubeConnectionError extends Error {
  constructor(readonly method: string, readonly path: string, access: KubeAccess, cause: unknown) {
    super(
      `Could not ${
        describeCall(method, path).text
      }: the Kubernetes API server at ${access.server} ` +
        `(from ${access.source}) cannot be reached: ${causeText(cause)}. ` +
        explainConnection(cause, access),
      { cause },
    );
    this.name = "KubeConnectionError";
  }
}

/** What a 403 lacks, and the Role rule that grants it. */
export interface ForbiddenExplanation {
  user: string;
  verb: string;
  /** Resource with subresource, e.g. `pods/exec`. */
  resource: string;
  apiGroup: string;
  /** Empty for cluster-scoped requests. */
  namespace: string;
  /** The rule as Role YAML (one list item). */
  rule: string;
  /** Everything above as one explanation for the log. */
  text: string;
}

/** Explains a 403 from its server message (`User "x" cannot create resource "pods/exec" in API
 * group "" in the namespace "ns"`); `namespace` is used when the message names none. Undefined when
 * the error is not a 403 or its message has another shape. */
export function explainForbidden(
  err: KubeApiError,
  namespace: string,
): ForbiddenExplanation | undefined {
  return err.status === 403 ? explainForbiddenMessage(err.serverMessage, namespace) : undefined;
}

const FORBIDDEN =
  /User "([^"]*)" cannot (\w+) resource "([^"]+)" in API group "([^"]*)"(?: in the namespace "([^"]*)")?/;

function explainForbiddenMessage(
  message: string,
  fallbackNamespace: string,
): ForbiddenExplanation | undefined {
  const match = FORBIDDEN.exec(message);
  if (!match) return undefined;
  const [, user, verb, resource, apiGroup, inNamespace] = match;
  const namespace = inNamespace ?? (message.includes("cluster scope") ? "" : fallbackNamespace);
  // A websocket exec/attach is a GET upgrade, and Kubernetes >= 1.35 also checks create on it:
  // granting only the verb that failed would fail again on the other.
  const streaming = /^pods\/(exec|attach|portforward)$/.test(resource);
  const verbs = streaming ? ["get", "create"] : [verb];
  const list = (items: string[]) => `[${items.map((i) => JSON.stringify(i)).join(", ")}]`;
  const rule = `- apiGroups: ${list([apiGroup])}\n  resources: ${list([resource])}\n` +
    `  verbs: ${list(verbs)}`;
  const where = namespace ? `the Role bound to it in namespace "${namespace}"` : "its ClusterRole";
  const text = `"${user}" may not ${verb} "${resource}"` +
    (namespace ? ` in namespace "${namespace}"` : "") + `. Add this rule to ${where}:\n` +
    rule.replace(/^/gm, "  ") +
    (streaming
      ? `\nWebsocket ${resource.slice(5)} needs both get and create on ${resource} ` +
        "(Kubernetes 1.35+ checks create on the upgrade as well)."
      : "");
  return { user, verb, resource, apiGroup, namespace, rule, text };
}

/** Says what to check when a connection to the API server failed: TLS trust, DNS, nothing
 * listening, or the network in between. */
export function explainConnection(err: unknown, access: KubeAccess): string {
  const text = causeText(err);
  const host = hostOf(access.server);
  if (/certificate|CaUsedAsEndEntity|UnknownIssuer|NotValidForName|handshake/i.test(text)) {
    return access.insecureSkipTlsVerify
      ? `TLS verification failed and kubehook cannot skip it (insecure-skip-tls-verify is set in ` +
        `${access.source}): put the cluster's CA in certificate-authority-data instead.`
      : `TLS verification of ${host} failed: check that the certificate authority in ` +
        `${access.source} is the one that signed the API server's certificate, and that the ` +
        `certificate is valid for "${host}".`;
  }
  if (/dns error|lookup address|Name or service not known|No address associated/i.test(text)) {
    return `The host name "${host}" does not resolve: check the server address in ` +
      `${access.source} and the DNS of the machine kubehook runs on.`;
  }
  if (access.proxy && /tunnel|proxy/i.test(text)) {
    return `The proxy ${access.proxy.host} (HTTPS_PROXY) did not open a tunnel to ${host}: allow ` +
      `CONNECT to the API server there, or add ${host.replace(/:\d+$/, "")} to NO_PROXY.`;
  }
  if (/refused/i.test(text)) {
    return `Nothing accepts connections at ${host}: check that the API server is running and ` +
      `that the address and port in ${access.source} are right.`;
  }
  return `Check the network path to ${host} (proxy, firewall, load balancer) and the server ` +
    `address in ${access.source}.`;
}

/** The innermost useful message of an error chain (Deno's fetch puts the reason in `cause`). */
export function causeText(err: unknown): string {
  const parts: string[] = [];
  for (let e = err; e instanceof Error && parts.length < 4; e = e.cause) parts.push(e.message);
  return parts.length ? parts[parts.length - 1] : String(err);
}

function hostOf(server: string): string {
  try {
    return new URL(server).host;
  } catch {
    return server;
  }
}

/** Turns a REST path into words: `create pods in namespace "ci"`, `get pod "x" in namespace
 * "ci"`, `exec into pod "x" in namespace "ci"`. Unknown shapes fall back to `METHOD path`. */
export function describeCall(method: string, path: string): { text: string; namespace: string } {
  const match =
    /^\/(?:api\/v1|apis\/[^/]+\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/
      .exec(path);
  if (!match) return { text: `${method} ${path}`, namespace: "" };
  const [, namespace = "", resource, name, sub] = match;
  const where = namespace ? ` in namespace "${namespace}"` : "";
  const kind = resource.replace(/s$/, "");
  if (name && sub) {
    const action = sub === "log" ? "read the log of" : `${sub} into`;
    return { text: `${action} ${kind} "${name}"${where}`, namespace };
  }
  const verbs: Record<string, string> = {
    GET: name ? "get" : "list",
    POST: "create",
    PUT: "update",
    PATCH: "patch",
    DELETE: "delete",
  };
  const verb = verbs[method] ?? method.toLowerCase();
  const object = name ? `${kind} "${name}"` : resource;
  return { text: `${verb} ${object}${where}`, namespace };
}

/** For a refusal by Pod Security admission (403 `violates PodSecurity "restricted:latest": ...`),
 * each control the pod fails with the fix, or undefined for any other refusal. */
export function explainPodSecurityRefusal(message: string): string | undefined {
  const found = /violates PodSecurity "([a-z]+)(?::[^"]*)?": (.*)$/s.exec(message);
  if (!found) return undefined;
  const [, level, list] = found;
  // "control (details), control (details), ...": split at the commas between controls.
  const controls: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < list.length; i++) {
    if (list[i] === "(") depth++;
    else if (list[i] === ")") depth--;
    else if (list[i] === "," && depth === 0) {
      controls.push(list.slice(start, i).trim());
      start = i + 1;
    }
  }
  controls.push(list.slice(start).trim());
  return `The namespace enforces the Pod Security standard "${level}", and the pod fails ` +
    `${controls.length === 1 ? "one control" : `${controls.length} controls`}:\n` +
    controls.map((c) => `  - ${c}`).join("\n") +
    `\n${
      level === "restricted"
        ? "Set KUBEHOOK_POD_SECURITY=restricted so kubehook makes its pods that way (it cannot " +
          "read the namespace's label with these credentials), and remove from the pod template " +
          "or the workflow's options what the list names (a root user, added capabilities, " +
          "privileges)."
        : "Remove from the pod template or the workflow's options what the list names " +
          "(privileged, host ports, host namespaces or paths)."
    }`;
}
