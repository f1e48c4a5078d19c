/**
 * Finds out how to reach the Kubernetes API: the pod's service account when kubehook runs in a
 * cluster, else a kubeconfig file. Replaces `@kubernetes/client-node`'s loader, whose import alone
 * costs more than half a second on every step (docs/design.md); `yaml` is imported only when a
 * kubeconfig file is actually read.
 *
 * Limits, on purpose: of a `KUBECONFIG` list the first existing file is used (no merging), and
 * exec/auth-provider credential plugins and basic auth are refused with an explanation.
 *
 * @example
 * ```ts
 * const access = await loadKubeAccess();
 * const client = new KubeClient(access);
 * ```
 *
 * @module
 */
import { proxyFor } from "./proxy.ts";

/** Everything needed to call the API server, and where it came from. */
export interface KubeAccess {
  /** Base URL, e.g. `https://10.0.0.1:443`, without a trailing slash. */
  server: string;
  /** The namespace kubehook works in. */
  namespace: string;
  /** Bearer token. */
  token?: string;
  /** Extra CA certificates (PEM) trusted for the server. */
  caPem?: string;
  /** Client certificate and key (PEM) for mutual TLS. */
  certPem?: string;
  keyPem?: string;
  /** Set by the kubeconfig; kubehook cannot honour it (Deno always verifies TLS), it only explains. */
  insecureSkipTlsVerify?: boolean;
  /** For messages: `kubeconfig /x (context runner)` or `in-cluster service account`. */
  source: string;
  /** The kubeconfig user name, or the service account's user name when the token tells it. */
  user?: string;
  /** The HTTP proxy to the server from `HTTPS_PROXY`/`NO_PROXY`, as `fetch` uses for REST. */
  proxy?: URL;
}

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Loads access from `env` (default: the process environment). Order: in-cluster service account
 * (`KUBERNETES_SERVICE_HOST` set and a token file present; directory overridable with
 * `KUBEHOOK_SERVICE_ACCOUNT_DIR`), else the first existing file of `KUBECONFIG`, else
 * `~/.kube/config`. Context: `KUBEHOOK_CONTEXT`, else `current-context`. Namespace:
 * `ACTIONS_RUNNER_KUBERNETES_NAMESPACE` > context namespace > service account namespace file >
 * `default`. */
export async function loadKubeAccess(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Promise<KubeAccess> {
  const access = await loadAccess(env);
  const proxy = proxyFor(new URL(access.server), env);
  return proxy ? { ...access, proxy } : access;
}

async function loadAccess(env: Record<string, string | undefined>): Promise<KubeAccess> {
  const saDir = env.KUBEHOOK_SERVICE_ACCOUNT_DIR || SERVICE_ACCOUNT_DIR;
  const saNamespace = (await readOptional(`${saDir}/namespace`))?.trim() || undefined;
  const namespace = (contextNamespace?: string) =>
    env.ACTIONS_RUNNER_KUBERNETES_NAMESPACE || contextNamespace || saNamespace || "default";

  const token = env.KUBERNETES_SERVICE_HOST ? await readOptional(`${saDir}/token`) : undefined;
  if (token !== undefined) {
    const host = env.KUBERNETES_SERVICE_HOST!;
    if (!token.trim()) {
      throw new Error(
        `The service account token ${saDir}/token is empty: check the pod's service account ` +
          "(automountServiceAccountToken must not be false).",
      );
    }
    return {
      server: `https://${host.includes(":") ? `[${host}]` : host}:${
        env.KUBERNETES_SERVICE_PORT || "443"
      }`,
      namespace: namespace(),
      token: token.trim(),
      caPem: await readOptional(`${saDir}/ca.crt`),
      source: "in-cluster service account",
      user: tokenSubject(token),
    };
  }

  const candidates = env.KUBECONFIG
    ? env.KUBECONFIG.split(":").filter(Boolean)
    : env.HOME
    ? [`${env.HOME}/.kube/config`]
    : [];
  for (const path of candidates) {
    const text = await readOptional(path);
    if (text !== undefined) return await fromKubeconfig(path, text, env, namespace);
  }
  throw new Error(
    "No Kubernetes access is configured: kubehook is not in a pod with a service account " +
      `(${
        env.KUBERNETES_SERVICE_HOST
          ? `no token at ${saDir}/token`
          : "KUBERNETES_SERVICE_HOST is unset"
      }) ` +
      `and no kubeconfig exists at ${
        candidates.join(", ") || "~/.kube/config (HOME is unset)"
      }. Run the runner in a pod with a service account, or set KUBECONFIG to a kubeconfig file.`,
  );
}

/** The parts of a kubeconfig file that kubehook reads (field names as in the file). */
interface Kubeconfig {
  "current-context"?: string;
  contexts?: Named<"context", { cluster?: string; user?: string; namespace?: string }>[];
  clusters?: Named<"cluster", {
    server?: string;
    "certificate-authority"?: string;
    "certificate-authority-data"?: string;
    "insecure-skip-tls-verify"?: boolean;
  }>[];
  users?: Named<"user", {
    token?: string;
    tokenFile?: string;
    "client-certificate"?: string;
    "client-certificate-data"?: string;
    "client-key"?: string;
    "client-key-data"?: string;
    exec?: { command?: string };
    "auth-provider"?: { name?: string };
    username?: string;
  }>[];
}
type Named<K extends string, T> = { name?: string } & { [key in K]?: T | null };

async function fromKubeconfig(
  path: string,
  text: string,
  env: Record<string, string | undefined>,
  namespace: (contextNamespace?: string) => string,
): Promise<KubeAccess> {
  let doc: Kubeconfig;
  try {
    doc = (await parseKubeconfig(text)) ?? {};
  } catch (err) {
    throw new Error(
      `The kubeconfig ${path} is not valid YAML (${
        (err as Error).message.split("\n")[0].replace(/:$/, "")
      }): ` +
        "fix the file or point KUBECONFIG at another one.",
    );
  }
  const contextName = env.KUBEHOOK_CONTEXT || doc["current-context"];
  const fromEnv = env.KUBEHOOK_CONTEXT ? " (from KUBEHOOK_CONTEXT)" : "";
  if (!contextName) {
    throw new Error(
      `The kubeconfig ${path} has no current-context: run \`kubectl config use-context NAME\` ` +
        "or set KUBEHOOK_CONTEXT to one of its contexts.",
    );
  }
  const context = find(doc.contexts, "context", contextName, path, "contexts", fromEnv);
  const source = `kubeconfig ${path} (context ${contextName})`;
  const cluster = find(doc.clusters, "cluster", context.cluster, path, "clusters", "");
  const where = `cluster "${context.cluster}" of ${source}`;
  if (!cluster.server) {
    throw new Error(`The ${where} has no server: add \`server: https://HOST:PORT\` to it.`);
  }
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  const pem = (data: string | undefined, file: string | undefined, field: string, owner: string) =>
    readPem(data, file, field, owner, dir);
  const access: KubeAccess = {
    server: cluster.server.replace(/\/+$/, ""),
    namespace: namespace(context.namespace),
    caPem: await pem(
      cluster["certificate-authority-data"],
      cluster["certificate-authority"],
      "certificate-authority",
      where,
    ),
    insecureSkipTlsVerify: cluster["insecure-skip-tls-verify"] === true || undefined,
    source,
    user: context.user,
  };
  if (context.user === undefined) return access;
  const user = find(doc.users, "user", context.user, path, "users", "");
  const owner = `user "${context.user}" of ${source}`;
  const fix = "use a token instead (e.g. `kubectl create token SERVICE_ACCOUNT`, set as the " +
    "user's `token`) or a client certificate, or run the runner in a pod with a service account.";
  if (user.exec) {
    throw new Error(
      `The ${owner} gets credentials from an exec plugin (${user.exec.command ?? "no command"}), ` +
        `which kubehook does not run: ${fix}`,
    );
  }
  if (user["auth-provider"]) {
    throw new Error(
      `The ${owner} uses auth-provider "${user["auth-provider"].name ?? ""}", which kubehook ` +
        `does not support: ${fix}`,
    );
  }
  if (user.username) {
    throw new Error(
      `The ${owner} uses basic auth (username/password), which Kubernetes ` +
        `removed in 1.19: ${fix}`,
    );
  }
  access.certPem = await pem(
    user["client-certificate-data"],
    user["client-certificate"],
    "client-certificate",
    owner,
  );
  access.keyPem = await pem(user["client-key-data"], user["client-key"], "client-key", owner);
  if (!access.certPem !== !access.keyPem) {
    throw new Error(
      `The ${owner} has a client ${
        access.certPem ? "certificate but no key" : "key but no " +
          "certificate"
      }: give both client-certificate(-data) and client-key(-data).`,
    );
  }
  access.token = user.token ??
    (user.tokenFile
      ? (await readRequired(resolve(dir, user.tokenFile), "tokenFile", owner)).trim()
      : undefined);
  return access;
}

/** JSON kubeconfigs (YAML's subset; what generated ones often are) skip the ~55 ms import of
 * `yaml`. */
async function parseKubeconfig(text: string): Promise<Kubeconfig | null> {
  if (text.trimStart().startsWith("{")) {
    try {
      return JSON.parse(text);
    } catch {
      // Flow-style YAML can start with "{" too: let the YAML parser judge.
    }
  }
  const { parse } = await import("yaml");
  return parse(text);
}

/** The entry named `name` in one of the kubeconfig's lists, or an error listing what exists. */
function find<K extends "context" | "cluster" | "user", T>(
  list: Named<K, T>[] | undefined,
  key: K,
  name: string | undefined,
  path: string,
  listName: string,
  hint: string,
): T {
  const entry = (list ?? []).find((e) => e?.name === name);
  if (entry?.[key]) return entry[key] as T;
  const known = (list ?? []).map((e) => JSON.stringify(e?.name)).join(", ") || "none";
  throw new Error(
    name === undefined
      ? `The kubeconfig ${path} has a context without a ${key}: set its \`${key}\` field.`
      : `The kubeconfig ${path} has no ${key} named "${name}"${hint} (${listName}: ${known}): ` +
        `fix the name or add the ${key}.`,
  );
}

/** A PEM from an inline base64 field (`<field>-data`) or a file path field (relative to the
 * kubeconfig's directory); inline wins, as with kubectl. */
async function readPem(
  data: string | undefined,
  file: string | undefined,
  field: string,
  owner: string,
  dir: string,
): Promise<string | undefined> {
  if (data) {
    try {
      return new TextDecoder().decode(Uint8Array.from(atob(data.trim()), (c) => c.charCodeAt(0)));
    } catch {
      throw new Error(
        `The ${field}-data of the ${owner} is not valid base64: ` +
          `put the output of \`base64 -w0 FILE.pem\` there.`,
      );
    }
  }
  return file ? await readRequired(resolve(dir, file), field, owner) : undefined;
}

async function readRequired(path: string, field: string, owner: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    throw new Error(
      `The ${field} file ${path} of the ${owner} cannot be read (${(err as Error).message}): ` +
        "fix the path or embed the content in the kubeconfig.",
    );
  }
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`Cannot read ${path} (${(err as Error).message}): check its permissions.`);
  }
}

function resolve(dir: string, path: string): string {
  return path.startsWith("/") ? path : `${dir}/${path}`;
}

/** The `sub` claim of a service account JWT (`system:serviceaccount:ns:name`), for messages. */
function tokenSubject(token: string): string | undefined {
  try {
    const payload = token.trim().split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const sub = JSON.parse(atob(payload.padEnd(Math.ceil(payload.length / 4) * 4, "="))).sub;
    return typeof sub === "string" ? sub : undefined;
  } catch {
    return undefined;
  }
}
