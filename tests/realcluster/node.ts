/**
 * One real Kubernetes node with its control plane, in namespaces of its own: a mount, network
 * and PID namespace (`unshare --kill-child`), so its mounts, containers and shims all end with it
 * and nothing is changed in the host's network. Inside: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, containerd (Debian's, with runc and the CNI bridge),
 * the kubelet, two registries (Debian's docker-registry) that serve the catalogue and a third one
 * for the images builder pods push ({@link BUILD_REGISTRY_PORT}). A veth pair
 * joins the host (`hostIP`) and the node (`nodeIP`); the kubelet's cgroups live under a root of
 * their own, removed at stop.
 *
 * The kubelet sets a few kernel-wide sysctls (vm.overcommit_memory, kernel.panic...) at start:
 * the node's mount namespace gives it private copies of those files, so the host keeps its own.
 *
 * @module
 */
import type { Programs } from "./build.ts";
import { PAUSE_IMAGE, PRIVATE_HOST, PUBLIC_HOSTS } from "./images.ts";
import { recordNode, removeNodeTraces, sweepAbandonedNodes } from "./node_traces.ts";
import { NODE_NAME, type Pki } from "./pki.ts";

/** Where the node's parts listen, inside its network namespace. */
export const API_PORT = 6443;
export const PUBLIC_REGISTRY_PORT = 5000;
/** The private registry answers as http://registry.local (port 80), so the credentials the
 * kubelet hands containerd for `registry.local` match the host it talks to. */
export const PRIVATE_REGISTRY_PORT = 80;
/** The build registry (htpasswd `robot`/`s3cret` to push and to pull), on every address of the
 * node: pods reach it at the CNI bridge's gateway ({@link POD_GATEWAY}), containerd at
 * `127.0.0.1` or the gateway, the host through a forwarder to the node's address (mod.ts). Its
 * storage is the cluster's own (`STATE/registry-build`), never the cache: kubehook skips a build
 * whose tag the registry already has, so images surviving from an earlier cluster would turn the
 * next run's builds into no-ops, and test pushes would pile up in the cache. */
export const BUILD_REGISTRY_PORT = 5001;
/** The CNI bridge's address (cni0, `isGateway`: the first of 10.88.0.0/16), where pods reach the
 * node's own listeners: the build registry, and the public one as Docker Hub's mirror. */
export const POD_GATEWAY = "10.88.0.1";
/** The hosts containerd pulls built images by (each its own server, so the kubelet's credentials
 * for that host are the ones sent). */
export const BUILD_REGISTRY_HOSTS = [
  `127.0.0.1:${BUILD_REGISTRY_PORT}`,
  `${POD_GATEWAY}:${BUILD_REGISTRY_PORT}`,
];

/** How to start the node. */
export interface NodeOptions {
  stateDir: string;
  programs: Programs;
  pki: Pki;
  /** The /30 that joins host and node: the host's and the node's address. */
  hostIP: string;
  nodeIP: string;
  /** Unique per cluster: names the host's veth and the cgroup root. */
  id: string;
  /** The registries' storage (in the cache, so images survive restarts). */
  registryStorage: string;
  /** The state directory is temporary: removed after a crash too (node_traces.ts). */
  temporaryStateDir: boolean;
}

/** The sysctls the kubelet writes at start. */
const KUBELET_SYSCTLS = [
  "vm/overcommit_memory",
  "vm/panic_on_oom",
  "kernel/panic",
  "kernel/panic_on_oops",
  "kernel/keys/root_maxkeys",
  "kernel/keys/root_maxbytes",
];

/** A running node. */
export class Node {
  private constructor(
    readonly options: NodeOptions,
    private process: Deno.ChildProcess,
    readonly cgroup: string,
  ) {}

  #forget: (() => Promise<void>) | undefined;

  /** The host's end of the veth pair. */
  get veth(): string {
    return `kh${this.options.id}`;
  }

  /** The API server, as the host reaches it. */
  get apiUrl(): string {
    return `https://${this.options.nodeIP}:${API_PORT}`;
  }

  /** Writes the configuration, starts the namespaces and the components, and wires the veth.
   * Resolves once the node's processes started (not once they are ready). */
  static async start(options: NodeOptions): Promise<Node> {
    const cgroup = `kubehook-${options.id}`;
    await sweepAbandonedNodes();
    const forget = await recordNode({
      id: options.id,
      cgroup,
      ...(options.temporaryStateDir ? { stateDir: options.stateDir } : {}),
    });
    const script = await writeConfiguration(options, cgroup);
    const process = new Deno.Command("unshare", {
      args: ["--mount", "--net", "--pid", "--fork", "--kill-child", "--mount-proc", "sh", script],
      // Held open for the node's lifetime: the script ends when it closes (see its last line).
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const node = new Node(options, process, cgroup);
    node.#forget = forget;
    try {
      const pid = await childPid(process.pid);
      const veth = node.veth;
      await run("ip", [
        "link",
        "add",
        veth,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        `${pid}`,
      ]);
      await run("ip", ["addr", "add", `${options.hostIP}/30`, "dev", veth]);
      await run("ip", ["link", "set", veth, "up"]);
    } catch (error) {
      await node.stop();
      throw error;
    }
    return node;
  }

  /** The last lines of a component's log, for error messages. */
  async logTail(component: string, lines = 15): Promise<string> {
    const text = await Deno.readTextFile(`${this.options.stateDir}/logs/${component}.log`)
      .catch(() => "");
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  }

  #stopped: Promise<void> | undefined;

  /** Kills everything in the node's namespaces, then removes its cgroups. */
  stop(): Promise<void> {
    return this.#stopped ??= (async () => {
      try {
        this.process.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await this.process.stdin.close().catch(() => {});
      await this.process.status.catch(() => {});
      await removeNodeTraces(this.cgroup, this.veth);
      await this.#forget?.();
    })();
  }
}

async function run(command: string, args: string[]): Promise<void> {
  const output = await new Deno.Command(command, { args, stdout: "null", stderr: "piped" })
    .output();
  if (!output.success) {
    throw new Error(
      `Cannot start the real-Kubernetes node: ${command} ${args.join(" ")} failed: ${
        new TextDecoder().decode(output.stderr).trim()
      }`,
    );
  }
}

/** The PID (in the host's namespace) of unshare's child, PID 1 of the node. */
async function childPid(parent: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const children = await Deno.readTextFile(`/proc/${parent}/task/${parent}/children`)
      .catch(() => "");
    const pid = Number(children.trim().split(/\s+/)[0]);
    if (pid > 0) return pid;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("Cannot start the real-Kubernetes node: unshare started no child.");
}

async function which(program: string): Promise<string> {
  const output = await new Deno.Command("sh", {
    args: ["-c", `command -v ${program}`],
    stdout: "piped",
  }).output();
  const path = new TextDecoder().decode(output.stdout).trim();
  if (!path) throw new Error(`The real-Kubernetes node needs ${program}, which is not on PATH.`);
  return path;
}

function kubeconfig(pki: Pki, token: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{
      name: "node",
      cluster: {
        server: `https://127.0.0.1:${API_PORT}`,
        "certificate-authority": `${pki.dir}/ca.crt`,
      },
    }],
    users: [{ name: "component", user: { token } }],
    contexts: [{ name: "node", context: { cluster: "node", user: "component" } }],
    "current-context": "node",
  });
}

/** Writes every configuration file and the node's start script; returns the script's path. */
async function writeConfiguration(options: NodeOptions, cgroup: string): Promise<string> {
  const s = options.stateDir;
  const { pki, programs: bin } = options;
  for (const dir of ["etcd", "containerd", "kubelet", "cni/net.d", "cni/ipam", "logs", "sysctl"]) {
    await Deno.mkdir(`${s}/${dir}`, { recursive: true });
  }
  await Deno.chmod(`${s}/etcd`, 0o700);
  const write = (path: string, text: string) => Deno.writeTextFile(`${s}/${path}`, text);
  await write("kubelet.kubeconfig", kubeconfig(pki, pki.tokens.node));
  await write("controller-manager.kubeconfig", kubeconfig(pki, pki.tokens.controllerManager));
  await write("scheduler.kubeconfig", kubeconfig(pki, pki.tokens.scheduler));
  await write(
    "containerd.toml",
    `version = 2
root = "${s}/containerd/root"
state = "${s}/containerd/state"
[grpc]
  address = "${s}/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "${s}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${s}/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${s}/certs.d"
`,
  );
  // These VMs withhold CAP_SYS_RESOURCE, so no process may lower its OOM score below 0, and runc
  // fails on the kubelet's -998 for sandboxes (and -997 for Guaranteed pods): raise them to 0.
  await write(
    "runc",
    `#!/bin/sh
prev=
for arg in "$@"; do
  if [ "$prev" = --bundle ] || [ "$prev" = -b ]; then
    sed -i -E 's/"oomScoreAdj": *-[0-9]+/"oomScoreAdj":0/' "$arg/config.json"
  fi
  prev=$arg
done
exec ${await which("runc")} "$@"
`,
  );
  await Deno.chmod(`${s}/runc`, 0o755);
  const mirror = (server: string) =>
    `server = "${server}"\n[host."${server}"]\n  capabilities = ["pull", "resolve"]\n`;
  for (const host of PUBLIC_HOSTS) {
    await Deno.mkdir(`${s}/certs.d/${host}`, { recursive: true });
    await write(`certs.d/${host}/hosts.toml`, mirror(`http://127.0.0.1:${PUBLIC_REGISTRY_PORT}`));
  }
  for (const host of [PRIVATE_HOST, ...BUILD_REGISTRY_HOSTS]) {
    await Deno.mkdir(`${s}/certs.d/${host}`, { recursive: true });
    await write(`certs.d/${host}/hosts.toml`, mirror(`http://${host}`));
  }
  await write(
    "cni/net.d/10-kubehook.conflist",
    JSON.stringify({
      cniVersion: "0.4.0",
      name: "kubehook",
      plugins: [
        {
          type: "bridge",
          bridge: "cni0",
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            dataDir: `${s}/cni/ipam`,
            ranges: [[{ subnet: "10.88.0.0/16", gateway: POD_GATEWAY }]],
            routes: [{ dst: "0.0.0.0/0" }],
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    }),
  );
  // Pods get a resolver that answers nothing (there is no cluster DNS): lookups fail at once.
  await write("resolv.conf", "nameserver 127.0.0.1\n");
  await write("hosts", `127.0.0.1\tlocalhost ${PRIVATE_HOST}\n`);
  await write(
    "kubelet.yaml",
    JSON.stringify({
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      cgroupDriver: "cgroupfs",
      cgroupRoot: `/${cgroup}`,
      failSwapOn: false,
      containerRuntimeEndpoint: `unix://${s}/containerd/containerd.sock`,
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: false },
        x509: { clientCAFile: `${pki.dir}/ca.crt` },
      },
      authorization: { mode: "AlwaysAllow" },
      resolvConf: `${s}/resolv.conf`,
      // A shared CI disk must not make the node evict the tests' pods.
      evictionHard: {
        "memory.available": "100Mi",
        "nodefs.available": "1%",
        "imagefs.available": "1%",
        "nodefs.inodesFree": "1%",
      },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      serializeImagePulls: false,
    }),
  );
  const registry = (port: number, dir: string, auth: string) =>
    `version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: ${dir}}}\n` +
    `http: {addr: "0.0.0.0:${port}"}\n${auth}`;
  await Deno.mkdir(`${options.registryStorage}/public`, { recursive: true });
  await Deno.mkdir(`${options.registryStorage}/private`, { recursive: true });
  await write(
    "registry-public.yml",
    registry(PUBLIC_REGISTRY_PORT, `${options.registryStorage}/public`, ""),
  );
  await write(
    "registry-private.yml",
    registry(
      PRIVATE_REGISTRY_PORT,
      `${options.registryStorage}/private`,
      `auth: {htpasswd: {realm: ${PRIVATE_HOST}, path: ${s}/htpasswd}}\n`,
    ),
  );
  await Deno.mkdir(`${s}/registry-build`, { recursive: true });
  await write(
    "registry-build.yml",
    registry(
      BUILD_REGISTRY_PORT,
      `${s}/registry-build`,
      `auth: {htpasswd: {realm: kubehook-build, path: ${s}/htpasswd}}\n`,
    ),
  );
  const htpasswd = await new Deno.Command("htpasswd", {
    args: ["-Bbn", "robot", "s3cret"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!htpasswd.success) throw new Error("htpasswd (apache2-utils) could not hash the password");
  await Deno.writeFile(`${s}/htpasswd`, htpasswd.stdout);
  const p = pki.dir;
  const log = (name: string) => `>>"${s}/logs/${name}.log" 2>&1`;
  const script = `exec >>"${s}/logs/node.log" 2>&1
set -ex
mount --make-rshared /
ip link set lo up
while ! ip link show eth0 >/dev/null 2>&1; do sleep 0.02; done
ip addr add ${options.nodeIP}/30 dev eth0
ip link set eth0 up
ip route add default via ${options.hostIP}
mount --bind "${s}/hosts" /etc/hosts
for f in ${KUBELET_SYSCTLS.join(" ")}; do
  copy="${s}/sysctl/$(echo "$f" | tr / _)"
  cat "/proc/sys/$f" >"$copy"
  mount --bind "$copy" "/proc/sys/$f"
done
docker-registry serve "${s}/registry-public.yml" ${log("registry-public")} &
docker-registry serve "${s}/registry-private.yml" ${log("registry-private")} &
docker-registry serve "${s}/registry-build.yml" ${log("registry-build")} &
"${bin.etcd}" --data-dir "${s}/etcd" --listen-client-urls http://127.0.0.1:2379 \\
  --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 \\
  --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster default=http://127.0.0.1:2380 \\
  --log-level=warn ${log("etcd")} &
"${bin["kube-apiserver"]}" --etcd-servers=http://127.0.0.1:2379 --secure-port=${API_PORT} \\
  --bind-address=0.0.0.0 --advertise-address=${options.nodeIP} \\
  --tls-cert-file="${p}/apiserver.crt" --tls-private-key-file="${p}/apiserver.key" \\
  --client-ca-file="${p}/ca.crt" --token-auth-file="${p}/tokens.csv" \\
  --authorization-mode=Node,RBAC --service-cluster-ip-range=10.96.0.0/24 \\
  --service-account-key-file="${p}/sa.pub" --service-account-signing-key-file="${p}/sa.key" \\
  --service-account-issuer=https://kubernetes.default.svc \\
  --kubelet-client-certificate="${p}/kubelet-client.crt" --kubelet-client-key="${p}/kubelet-client.key" \\
  --kubelet-preferred-address-types=InternalIP --allow-privileged=true \\
  --enable-admission-plugins=NodeRestriction ${log("kube-apiserver")} &
# The controller manager and scheduler stop when the API server is not ready yet: start again.
(until "${bin["kube-controller-manager"]}" --kubeconfig="${s}/controller-manager.kubeconfig" \\
  --authentication-kubeconfig="${s}/controller-manager.kubeconfig" \\
  --authorization-kubeconfig="${s}/controller-manager.kubeconfig" \\
  --service-account-private-key-file="${p}/sa.key" --root-ca-file="${p}/ca.crt" \\
  --use-service-account-credentials=true --leader-elect=false \\
  --controllers='*,-nodeipam,-bootstrapsigner,-tokencleaner' ${
    log("kube-controller-manager")
  }; do sleep 0.5; done) &
(until "${bin["kube-scheduler"]}" --kubeconfig="${s}/scheduler.kubeconfig" \\
  --authentication-kubeconfig="${s}/scheduler.kubeconfig" \\
  --authorization-kubeconfig="${s}/scheduler.kubeconfig" --leader-elect=false ${
    log("kube-scheduler")
  }; do sleep 0.5; done) &
for hierarchy in /sys/fs/cgroup/*/; do mkdir -p "\${hierarchy}${cgroup}"; done
containerd --config "${s}/containerd.toml" ${log("containerd")} &
while [ ! -S "${s}/containerd/containerd.sock" ]; do sleep 0.05; done
"${bin.kubelet}" --config="${s}/kubelet.yaml" --kubeconfig="${s}/kubelet.kubeconfig" \\
  --root-dir="${s}/kubelet" --hostname-override=${NODE_NAME} --node-ip=${options.nodeIP} ${
    log("kubelet")
  } &
# This script is PID 1 of the node's namespace, and its stdin is a pipe its owner (the test, or
# deno task cluster) holds: when the owner ends, however it ends (even SIGKILL), the read ends,
# the script exits, and the kernel kills every process of the namespace.
read -r _ || true
`;
  await write("node.sh", script);
  return `${s}/node.sh`;
}
