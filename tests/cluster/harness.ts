/**
 * Starts and stops a whole local cluster (API server and kubelet) inside a test process, and
 * runs the real `kubectl` against it with a private HOME (so kubectl's discovery cache stays in
 * the cluster's state dir). Everything it made is gone after `stop()`.
 *
 * ```ts
 * await using cluster = await startCluster();
 * const { code, stdout } = await cluster.kubectl(["get", "pods", "-o", "wide"]);
 * await cluster.addFaults({ kind: "exec-drop", afterBytes: 100 });
 * ```
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { ClusterStore, PodRuntime } from "./contract.ts";
import type { Identity } from "./api/authz.ts";
import type { Fault } from "./api/faults.ts";
import { claimHostPath } from "./api/claims.ts";
import { kubeconfigText, writeFileAtomic } from "./api/kubeconfig.ts";
import { type ApiServer, startApiServer } from "./api/mod.ts";
import { createKubelet, type NodeRegistry } from "./kubelet/mod.ts";
import { ClusterRegistry, NODE_HOST, REGISTRY_ACCOUNT, REGISTRY_HOST } from "./registry/mod.ts";

/** How to start a cluster. */
export interface ClusterOptions {
  /** Defaults to a new temporary directory, removed by `stop()`. */
  stateDir?: string;
  /** Defaults to `<stateDir>/kubeconfig`. */
  kubeconfigPath?: string;
  /** How many changes watches can resume from (default 1000). */
  watchHistory?: number;
  /** The kubelet; the real one (bwrap pods) unless a test supplies another. `registry` is the
   * cluster's registry, which the kubelet pulls from and lets pods reach. */
  createRuntime?: (
    store: ClusterStore,
    options: { stateDir: string; registry: NodeRegistry },
  ) => PodRuntime;
}

/** What `kubectl` printed and how it exited. */
export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The cluster's registry for Dockerfile builds (seed 002): builder pods push to it and the node
 * pulls the built images from it; both need {@link BuildRegistry.username}'s password. */
export interface BuildRegistry {
  /** `host:port` pods reach it by (the builder's push). */
  host: string;
  /** `host:port` the node's runtime reaches it by, when it differs from {@link host} (the pull
   * host of kubehook's `_PULL` setting). */
  nodeHost: string;
  /** An `http_proxy` URL that takes a host process (the hook in tests) to the registry, whatever
   * host the request names: under ARC the runner is a pod and reaches {@link host} itself. */
  proxyUrl: string;
  /** `host:port` of a plain-HTTP mirror of Docker Hub names (`library/busybox`...) for the
   * builder's `--registry-mirror`: these machines cannot reach Docker Hub. */
  mirror: string;
  username: string;
  password: string;
}

/** What every cluster tier offers the tests: the API (through the kubeconfig's three contexts),
 * the admin-only fault and stats endpoints, kubectl, and a registry for builds. */
export interface ClusterAccess extends AsyncDisposable {
  /** "embedded" (tests/cluster) or "real" (tests/realcluster). */
  tier: "embedded" | "real";
  url: string;
  kubeconfigPath: string;
  stateDir: string;
  tokens: Record<Identity, string>;
  caPem: string;
  registry: BuildRegistry;
  /** A fetch against the cluster with a context's token (default admin) and its CA. */
  fetch(path: string, init?: RequestInit & { context?: Identity }): Promise<Response>;
  addFaults(faults: Partial<Fault> | Partial<Fault>[]): Promise<void>;
  clearFaults(): Promise<void>;
  /** The host directory a bound PersistentVolumeClaim stands for, or undefined. */
  claimHostPath(namespace: string, claim: string): Promise<string | undefined>;
  /** Runs the real kubectl with this cluster's kubeconfig. */
  kubectl(
    args: string[],
    options?: { context?: Identity; stdin?: string | Uint8Array },
  ): Promise<KubectlResult>;
  stop(): Promise<void>;
}

/** A running embedded cluster, which tests may also look inside. */
export interface Cluster extends ClusterAccess {
  tier: "embedded";
  /** The API server itself. */
  server: ApiServer;
  /** The registry behind {@link ClusterAccess.registry} (registry/mod.ts): started on first
   * use. */
  clusterRegistry: ClusterRegistry;
  /** Pods as stored, in one namespace or all. */
  listPods(namespace?: string): V1Pod[];
}

/** The tier `KUBEHOOK_TEST_CLUSTER` names: `real` or (default) `embedded`. */
export function testTier(): "embedded" | "real" {
  const tier = Deno.env.get("KUBEHOOK_TEST_CLUSTER") ?? "embedded";
  if (tier !== "embedded" && tier !== "real") {
    throw new Error(`KUBEHOOK_TEST_CLUSTER=${tier}: use "embedded" (the default) or "real".`);
  }
  return tier;
}

/** Starts a cluster of the tier the tests run against (see {@link testTier}); the real tier is
 * imported only when asked for. */
export async function startTestCluster(options: ClusterOptions = {}): Promise<ClusterAccess> {
  if (testTier() === "embedded") return await startCluster(options);
  const { startRealCluster } = await import("../realcluster/mod.ts");
  return await startRealCluster(options);
}

/** The test-facing access to a cluster at `url` whose kubeconfig names `tokens`; `home` is
 * kubectl's HOME (its discovery cache). `stop` ends the cluster. */
export function clusterAccess(
  tier: "embedded" | "real",
  details: {
    url: string;
    caPem: string;
    tokens: Record<Identity, string>;
    kubeconfigPath: string;
    stateDir: string;
    home: string;
    claimHostPath: ClusterAccess["claimHostPath"];
    registry: BuildRegistry;
  },
  stop: () => Promise<void>,
): ClusterAccess {
  const client = Deno.createHttpClient({ caCerts: [details.caPem] });
  const fetchAs = (path: string, init: RequestInit & { context?: Identity } = {}) => {
    const { context = "admin", ...rest } = init;
    const headers = new Headers(rest.headers);
    headers.set("authorization", `Bearer ${details.tokens[context]}`);
    return fetch(`${details.url}${path}`, { ...rest, headers, client });
  };
  const faultRequest = async (method: string, body?: unknown) => {
    const response = await fetchAs("/_cluster/faults", {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      headers: { "content-type": "application/json" },
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`The ${tier} cluster refused the fault request: ${text}`);
  };
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    stopping ??= (async () => {
      client.close();
      await stop();
    })();
  return {
    tier,
    url: details.url,
    kubeconfigPath: details.kubeconfigPath,
    stateDir: details.stateDir,
    tokens: details.tokens,
    caPem: details.caPem,
    registry: details.registry,
    fetch: fetchAs,
    addFaults: (faults) => faultRequest("POST", faults),
    clearFaults: () => faultRequest("DELETE"),
    claimHostPath: details.claimHostPath,
    kubectl: async (args, opts = {}) => {
      const command = new Deno.Command("kubectl", {
        args: [...(opts.context ? ["--context", opts.context] : []), ...args],
        env: { KUBECONFIG: details.kubeconfigPath, HOME: details.home },
        stdin: opts.stdin === undefined ? "null" : "piped",
        stdout: "piped",
        stderr: "piped",
      });
      const child = command.spawn();
      if (opts.stdin !== undefined) {
        const writer = child.stdin.getWriter();
        await writer.write(
          typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin,
        );
        await writer.close();
      }
      const output = await child.output();
      const decoder = new TextDecoder();
      return {
        code: output.code,
        stdout: decoder.decode(output.stdout),
        stderr: decoder.decode(output.stderr),
      };
    },
    stop: stopAll,
    [Symbol.asyncDispose]: stopAll,
  };
}

/** Starts a cluster; resolves once the API answers. */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const ownDir = options.stateDir === undefined;
  const stateDir = options.stateDir ??
    await Deno.makeTempDir({ prefix: "kubehook-cluster-" });
  const createRuntime = options.createRuntime ?? createKubelet;
  let server: ApiServer;
  let registry: ClusterRegistry | undefined;
  try {
    // Two idle listeners until something uses it: clusters that never do pay nothing more.
    registry = await ClusterRegistry.open(stateDir);
    const nodeRegistry = registry;
    server = await startApiServer({
      stateDir,
      createRuntime: (store) => createRuntime(store, { stateDir, registry: nodeRegistry }),
      watchHistory: options.watchHistory,
    });
  } catch (error) {
    await registry?.close();
    if (ownDir) await Deno.remove(stateDir, { recursive: true }).catch(() => {});
    throw error;
  }
  const clusterRegistry = registry;
  const kubeconfigPath = options.kubeconfigPath ?? `${stateDir}/kubeconfig`;
  const home = `${stateDir}/home`;
  await Deno.mkdir(home, { recursive: true });
  await writeFileAtomic(kubeconfigPath, kubeconfigText(server.url, server.caPem, server.users));
  const tokens = {
    admin: server.users.admin.token,
    runner: server.users.runner.token,
    builder: server.users.builder.token,
    restricted: server.users.restricted.token,
  };
  const access = clusterAccess(
    "embedded",
    {
      url: server.url,
      caPem: server.caPem,
      tokens,
      kubeconfigPath,
      stateDir,
      home,
      claimHostPath: (namespace, claim) =>
        Promise.resolve(claimHostPath(server.control.store, stateDir, namespace, claim)),
      registry: {
        host: REGISTRY_HOST,
        nodeHost: NODE_HOST,
        proxyUrl: clusterRegistry.proxyUrl,
        mirror: REGISTRY_HOST,
        ...REGISTRY_ACCOUNT,
      },
    },
    async () => {
      await server.close();
      await clusterRegistry.close();
      const made = ownDir ? [stateDir] : [home, kubeconfigPath];
      for (const path of made) await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  );
  return {
    ...access,
    tier: "embedded",
    server,
    clusterRegistry,
    listPods: (namespace) => server.control.store.list("pods", namespace) as V1Pod[],
  };
}

/** Why kubectl tests cannot run here (kubectl missing or older than 1.30), or undefined. */
export async function kubectlSkipReason(): Promise<string | undefined> {
  try {
    const output = await new Deno.Command("kubectl", {
      args: ["version", "--client", "-o", "json"],
      stdout: "piped",
      stderr: "null",
    }).output();
    const version = JSON.parse(new TextDecoder().decode(output.stdout)).clientVersion;
    const minor = parseInt(version.minor, 10);
    if (version.major !== "1" || minor < 30) {
      return `kubectl ${version.gitVersion} is older than 1.30; install kubectl 1.30 or newer`;
    }
    return undefined;
  } catch {
    return "kubectl is not installed (put kubectl 1.30 or newer on PATH to run these tests)";
  }
}
