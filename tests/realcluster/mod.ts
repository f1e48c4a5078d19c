/**
 * The real-Kubernetes tier: {@link startRealCluster} builds what is missing (tests/realcluster/
 * build.ts, images.ts), starts a single-node cluster (node.ts) behind the fault-and-stats front
 * door (front.ts), applies the shipped `examples/rbac.yaml` in namespace `default`, and returns the
 * same {@link ClusterAccess} the embedded cluster gives: a kubeconfig with the contexts `admin`,
 * `runner` (the ServiceAccount of rbac.yaml with its Role), `builder` (the same with the Role's
 * rules for Dockerfile actions uncommented) and `restricted` (the same without
 * `pods/exec`), and the build registry of Dockerfile actions ({@link ClusterAccess.registry}):
 * pods push to `10.88.0.1:5001` (the real Kaniko, image `ghcr.io/osscontainertools/kaniko`, with
 * `--registry-mirror=10.88.0.1:5000` for Docker Hub names), the node pulls from `127.0.0.1:5001`,
 * host processes reach it through a loopback forwarder used as their `http_proxy`.
 * `stop()` leaves nothing: no process, mount, cgroup, veth, forwarder or temporary directory.
 *
 * ```ts
 * await using cluster = await startRealCluster();
 * await cluster.kubectl(["get", "nodes"]);
 * ```
 * @module
 */
import {
  type BuildRegistry,
  type ClusterAccess,
  clusterAccess,
  type ClusterOptions,
} from "../cluster/harness.ts";
import { type Forwarder, startForwarder } from "../cluster/forward.ts";
import { readRbacManifest, type Rule } from "../cluster/api/authz.ts";
import { kubeconfigText, writeFileAtomic } from "../cluster/api/kubeconfig.ts";
import type { Identity, User } from "../cluster/api/authz.ts";
import { ensurePrograms } from "./build.ts";
import { startFront } from "./front.ts";
import { catalogueCache, pushCatalogue } from "./images.ts";
import {
  API_PORT,
  BUILD_REGISTRY_PORT,
  Node,
  POD_GATEWAY,
  PRIVATE_REGISTRY_PORT,
  PUBLIC_REGISTRY_PORT,
} from "./node.ts";
import { generatePki, NODE_NAME, type Pki } from "./pki.ts";
import { ensureRealPrerequisites } from "./prerequisites.ts";
import { claimHostPath, startProvisioner } from "./volumes.ts";

/** How long a cold node may take to have its node Ready and RBAC in place. */
const READY_TIMEOUT_MS = Number(Deno.env.get("KUBEHOOK_REAL_READY_TIMEOUT_MS") ?? 120_000);
const NAMESPACE = "default";
/** The `restricted` context's ServiceAccount and Role. */
const RESTRICTED = "kubehook-restricted";
/** The `builder` context's ServiceAccount and Role. */
const BUILDER = "kubehook-builder";

/** A running real cluster: what every tier offers, and where its node shows on the host. */
export interface RealCluster extends ClusterAccess {
  tier: "real";
  node: {
    /** The node's cgroup root, under every hierarchy of /sys/fs/cgroup. */
    cgroup: string;
    /** The host's end of the veth pair that joins host and node. */
    veth: string;
    /** The node's address, where the API server and the registries listen. */
    ip: string;
  };
}

/** Starts a real cluster; `log` (default silent) gets progress lines. */
export async function startRealCluster(
  options: ClusterOptions & { log?: (line: string) => void } = {},
): Promise<RealCluster> {
  const log = options.log ?? (() => {});
  await ensureRealPrerequisites({ install: true, log });
  const programs = await ensurePrograms(log);
  const catalogue = await catalogueCache(programs);
  const ownDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? await Deno.makeTempDir({ prefix: "kubehook-real-" });
  const id = Array.from(
    crypto.getRandomValues(new Uint8Array(3)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
  // A /30 of 10.201.0.0/16 that no other cluster on this host is likely to hold.
  const block = parseInt(id, 16) % 16384;
  const net = `10.201.${block >> 6}`;
  const hostIP = `${net}.${(block & 63) * 4 + 1}`;
  const nodeIP = `${net}.${(block & 63) * 4 + 2}`;
  const pkiDir = `${stateDir}/pki`;
  let pki: Pki;
  let node: Node;
  try {
    await Deno.mkdir(pkiDir, { recursive: true });
    pki = await generatePki(pkiDir, nodeIP);
    node = await Node.start({
      stateDir,
      programs,
      pki,
      hostIP,
      nodeIP,
      id,
      registryStorage: catalogue.registry,
      temporaryStateDir: ownDir,
    });
  } catch (error) {
    if (ownDir) await Deno.remove(stateDir, { recursive: true }).catch(() => {});
    throw error;
  }
  let front: Awaited<ReturnType<typeof startFront>> | undefined;
  let stopProvisioner: (() => Promise<void>) | undefined;
  let registryForwarder: Forwarder | undefined;
  const adminAccess = { server: node.apiUrl, token: pki.tokens.admin, caPem: pki.caPem };
  const stopAll = async () => {
    await front?.close();
    await registryForwarder?.close();
    await stopProvisioner?.();
    await node.stop();
    if (ownDir) await Deno.remove(stateDir, { recursive: true }).catch(() => {});
    else await Deno.remove(`${stateDir}/home`, { recursive: true }).catch(() => {});
  };
  try {
    const admin = apiCaller(node.apiUrl, pki.caPem, pki.tokens.admin);
    await until(
      () => registryUp(`http://${nodeIP}:${PUBLIC_REGISTRY_PORT}`),
      "the registries to answer",
      node,
      "registry-public",
    );
    await pushCatalogue(
      {
        public: { url: `http://${nodeIP}:${PUBLIC_REGISTRY_PORT}` },
        private: {
          url: `http://${nodeIP}:${PRIVATE_REGISTRY_PORT}`,
          username: "robot",
          password: "s3cret",
        },
      },
      catalogue,
      programs,
      log,
    );
    await until(
      () => registryUp(`http://${nodeIP}:${BUILD_REGISTRY_PORT}`, 401),
      "the build registry to answer",
      node,
      "registry-build",
    );
    registryForwarder = startForwarder({ hostname: nodeIP, port: BUILD_REGISTRY_PORT });
    const registry: BuildRegistry = {
      host: `${POD_GATEWAY}:${BUILD_REGISTRY_PORT}`,
      nodeHost: `127.0.0.1:${BUILD_REGISTRY_PORT}`,
      proxyUrl: registryForwarder.url,
      mirror: `${POD_GATEWAY}:${PUBLIC_REGISTRY_PORT}`,
      username: "robot",
      password: "s3cret",
    };
    await until(() => apiReady(admin), "the API server", node, "kube-apiserver");
    const tokens = await applyRbac(admin, pki.tokens.admin);
    stopProvisioner = startProvisioner(adminAccess, `${stateDir}/volumes`);
    await until(() => nodeReady(admin), `node ${NODE_NAME} to be Ready`, node, "kubelet");
    await until(
      () =>
        admin("GET", `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/default`).then(() => true),
      'the "default" service account',
      node,
      "kube-controller-manager",
    );
    const certPem = await Deno.readTextFile(`${pkiDir}/front.crt`);
    const keyPem = await Deno.readTextFile(`${pkiDir}/front.key`);
    front = startFront({
      certPem,
      keyPem,
      upstream: { hostname: nodeIP, port: API_PORT, caPem: pki.caPem },
      adminToken: pki.tokens.admin,
      nodeName: NODE_NAME,
    });
    const kubeconfigPath = options.kubeconfigPath ?? `${stateDir}/kubeconfig`;
    const home = `${stateDir}/home`;
    await Deno.mkdir(home, { recursive: true });
    const users = Object.fromEntries(
      (Object.keys(tokens) as Identity[]).map((identity) => [
        identity,
        { identity, name: identity, token: tokens[identity] },
      ]),
    ) as Record<Identity, User>;
    await writeFileAtomic(kubeconfigPath, kubeconfigText(front.url, pki.caPem, users));
    const access = clusterAccess(
      "real",
      {
        url: front.url,
        caPem: pki.caPem,
        tokens,
        kubeconfigPath,
        stateDir,
        home,
        claimHostPath: (namespace, claim) => claimHostPath(adminAccess, namespace, claim),
        registry,
      },
      async () => {
        await stopAll();
        if (!ownDir) await Deno.remove(kubeconfigPath).catch(() => {});
      },
    );
    return {
      ...access,
      tier: "real",
      node: { cgroup: node.cgroup, veth: node.veth, ip: nodeIP },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

type Api = (method: string, path: string, body?: unknown) => Promise<unknown>;

/** Calls the API server with `token`; throws with the status on an error answer. */
function apiCaller(url: string, caPem: string, token: string): Api {
  return async (method, path, body) => {
    const client = Deno.createHttpClient({ caCerts: [caPem] });
    try {
      const response = await fetch(`${url}${path}`, {
        method,
        client,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      if (!response.ok) throw new ApiCallError(response.status, `${method} ${path}: ${text}`);
      // /readyz answers plain text.
      return response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
    } finally {
      client.close();
    }
  };
}

class ApiCallError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Waits until `check` resolves true (errors count as not yet), or fails naming what did not
 * come up, with the end of that component's log. */
async function until(
  check: () => Promise<boolean>,
  what: string,
  node: Node,
  component: string,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `The real-Kubernetes cluster did not come up: waited ${READY_TIMEOUT_MS / 1000} s for ` +
      `${what}. The end of ${component}'s log:\n${await node.logTail(component)}\n` +
      `The end of the node's own log:\n${await node.logTail("node")}`,
  );
}

/** Whether the registry at `url` answers its API root (with 401 when it wants credentials). */
async function registryUp(url: string, status = 200): Promise<boolean> {
  const response = await fetch(`${url}/v2/`);
  await response.body?.cancel();
  return response.status === status;
}

async function apiReady(api: Api): Promise<boolean> {
  await api("GET", "/readyz");
  return true;
}

async function nodeReady(api: Api): Promise<boolean> {
  const node = await api("GET", `/api/v1/nodes/${NODE_NAME}`) as {
    status?: { conditions?: { type: string; status: string }[] };
  };
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** Creates, in `default`, the ServiceAccount and Role of examples/rbac.yaml with its binding,
 * the builder's (the same Role with its Dockerfile actions rules uncommented) and the restricted
 * one (the Role without pods/exec); returns each context's token. */
async function applyRbac(api: Api, adminToken: string): Promise<Record<Identity, string>> {
  const { account, rules } = readRbacManifest();
  const builderRules = readRbacManifest({ builds: true }).rules;
  const restrictedRules: Rule[] = rules
    .map((rule) => ({ ...rule, resources: rule.resources?.filter((r) => r !== "pods/exec") }))
    .filter((rule) => (rule.resources ?? []).length > 0);
  const tokens: Record<string, string> = { admin: adminToken };
  for (
    const [identity, name, roleRules] of [
      ["runner", account, rules],
      ["builder", BUILDER, builderRules],
      ["restricted", RESTRICTED, restrictedRules],
    ] as const
  ) {
    const ns = `/api/v1/namespaces/${NAMESPACE}`;
    const rbac = `/apis/rbac.authorization.k8s.io/v1/namespaces/${NAMESPACE}`;
    await createOnce(api, `${ns}/serviceaccounts`, {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name },
    });
    await createOnce(api, `${rbac}/roles`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name },
      rules: roleRules,
    });
    await createOnce(api, `${rbac}/rolebindings`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace: NAMESPACE }],
    });
    const request = await api("POST", `${ns}/serviceaccounts/${name}/token`, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds: 7 * 24 * 3600 },
    }) as { status: { token: string } };
    tokens[identity] = request.status.token;
  }
  return tokens as Record<Identity, string>;
}

/** Creates an object; one that already exists (a state directory reused) is fine. */
async function createOnce(api: Api, path: string, body: unknown): Promise<void> {
  try {
    await api("POST", path, body);
  } catch (error) {
    if (!(error instanceof ApiCallError && error.status === 409)) throw error;
  }
}
