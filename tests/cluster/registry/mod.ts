/**
 * The embedded cluster's registry, `registry.local:5000`: Debian's `docker-registry` (the
 * distribution registry) with htpasswd auth (robot/s3cret: pushing and pulling both need them),
 * its storage under the cluster's state directory, and a Docker Hub mirror in it: the
 * catalogue's busybox and alpine as `library/<name>` (mirror.ts), so a build with
 * `--registry-mirror=registry.local:5000` pulls `FROM busybox` from there.
 *
 * How it is reached: the registry listens on a Unix socket of its own. In front of it this
 * process keeps two listeners that splice every connection to that socket (forward.ts): a Unix
 * socket that the pod network's listener on `10.244.0.1:5000` forwards to (pod_network.ts; pods
 * resolve `registry.local` to that gateway through their /etc/hosts), and a loopback TCP port,
 * {@link ClusterRegistry.proxyUrl}, for host processes, as their `http_proxy` (the registry
 * answers absolute-form requests, whatever host they name). The kubelet, a host process too,
 * pulls `registry.local:5000/...` and `localhost:5000/...` through the registry's socket.
 *
 * Cost: most clusters never use their registry, so nothing runs until the first connection (or
 * the first pull) asks for it: only then is the registry started (about 20 ms to answer) and the
 * mirror pushed (about 0.3 s, mostly building and compressing busybox's layer); that first
 * connection waits for both. Until then the registry is two idle listeners (under 1 ms to open,
 * no measurable change to a cluster's start). Closing it ends the registry process and removes
 * its sockets and storage.
 *
 * @example
 * ```ts
 * const registry = await ClusterRegistry.open("/tmp/cluster");
 * const response = await fetch("http://registry.local:5000/v2/", {
 *   client: Deno.createHttpClient({ proxy: { url: registry.proxyUrl } }),
 * });
 * await registry.close();
 * ```
 * @module
 */
import {
  type Forwarder,
  startForwarder,
  startUnixForwarder,
  type UnixForwarder,
} from "../forward.ts";
import type { Registry } from "../builder/registry_push.ts";
import { findHostTools, findOnPath } from "../kubelet/host_tools.ts";
import type { NodeRegistry } from "../kubelet/registry_pull.ts";
import type { Credential } from "../kubelet/pull_secrets.ts";
import { MIRRORED_IMAGES, pushCatalogueImages } from "./mirror.ts";

/** `host:port` pods reach the registry by. */
export const REGISTRY_HOST = "registry.local:5000";
/** `host:port` the node (the kubelet) also reaches it by. */
export const NODE_HOST = "localhost:5000";
/** The port pods reach it on, at the pod network's gateway. */
export const REGISTRY_PORT = 5000;
/** The only account: pushing and pulling both need it. */
export const REGISTRY_ACCOUNT: Readonly<Credential> = { username: "robot", password: "s3cret" };

/** How long the registry may take to answer on its socket. */
const START_TIMEOUT_MS = 15_000;
/** Longest Unix socket path the kernel takes (sun_path less its NUL). */
const SOCKET_PATH_MAX = 107;
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** A cluster's registry, started on first use. */
export class ClusterRegistry implements NodeRegistry, AsyncDisposable {
  readonly hosts = [REGISTRY_HOST, NODE_HOST] as const;
  readonly port = REGISTRY_PORT;
  #started: Promise<void> | undefined;
  #process: Deno.ChildProcess | undefined;
  #client: Deno.HttpClient | undefined;
  #closing: Promise<void> | undefined;
  #reported = false;

  #front: UnixForwarder;
  #proxy: Forwarder;

  private constructor(
    /** Storage, configuration and log. */
    readonly dir: string,
    /** Where the sockets are: `dir`, or a short temporary directory when `dir` is too long. */
    private sockets: string,
  ) {
    const server = { path: `${sockets}/registry.sock` };
    const beforeConnect = () => this.ensureStarted();
    this.#front = startUnixForwarder(`${sockets}/front.sock`, server, { beforeConnect });
    this.#proxy = startForwarder(server, { beforeConnect });
  }

  /** Opens the registry of the cluster whose state directory is `stateDir`: its listeners only;
   * the registry itself starts when first used. */
  static async open(stateDir: string): Promise<ClusterRegistry> {
    const dir = `${stateDir}/registry`;
    await Deno.mkdir(dir, { recursive: true });
    const sockets = `${dir}/front.sock`.length <= SOCKET_PATH_MAX
      ? dir
      : await Deno.makeTempDir({ prefix: "kubehook-registry-" });
    return new ClusterRegistry(dir, sockets);
  }

  /** The Unix socket on the host that reaches the registry (pods' way in, through the pod
   * network's listener). */
  get socket(): string {
    return this.#front.path;
  }

  /** An `http_proxy` URL that takes host processes to the registry, by any name. */
  get proxyUrl(): string {
    return this.#proxy.url;
  }

  /** Whether the registry was started (something used it). */
  get started(): boolean {
    return this.#process !== undefined;
  }

  /** Starts the registry and pushes its mirror, once; resolves when it answers. */
  ensureStarted(): Promise<void> {
    if (this.#closing) return Promise.reject(new Error("the cluster's registry is stopped"));
    this.#started ??= this.#start().catch((error) => {
      // The next use tries again; this one reports why it failed, once per failure.
      this.#started = undefined;
      if (!this.#reported) {
        this.#reported = true;
        console.error(`The cluster's registry could not start: ${error.message}`);
      }
      throw error;
    });
    return this.#started;
  }

  async connect(host: string, credential?: Credential): Promise<Registry> {
    await this.ensureStarted();
    return { url: `http://${host}`, ...credential, client: this.#client };
  }

  async #start(): Promise<void> {
    try {
      await this.#run();
    } catch (error) {
      // Nothing of a failed start is left running: the next use starts afresh.
      await this.#stop();
      throw error;
    }
  }

  async #stop(): Promise<void> {
    const process = this.#process;
    this.#process = undefined;
    this.#client?.close();
    this.#client = undefined;
    if (process) {
      await process.stdin.close().catch(() => {});
      await process.status;
    }
  }

  async #run(): Promise<void> {
    const program = findOnPath("docker-registry", PATH);
    const htpasswd = findOnPath("htpasswd", PATH);
    if (!program || !htpasswd) {
      throw new Error(
        "it needs Debian's docker-registry and htpasswd: apt-get install docker-registry " +
          "apache2-utils (deno run -A tests/cluster/prerequisites.ts installs them)",
      );
    }
    const hash = await new Deno.Command(htpasswd, {
      args: ["-Bbn", REGISTRY_ACCOUNT.username, REGISTRY_ACCOUNT.password],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!hash.success) throw new Error(`htpasswd failed: ${new TextDecoder().decode(hash.stderr)}`);
    await Deno.writeFile(`${this.dir}/htpasswd`, hash.stdout);
    const socket = `${this.sockets}/registry.sock`;
    await Deno.writeTextFile(
      `${this.dir}/config.yml`,
      [
        "version: 0.1",
        "log: { level: error, accesslog: { disabled: true } }",
        `storage: { filesystem: { rootdirectory: ${this.dir}/data }, delete: { enabled: true } }`,
        `http: { net: unix, addr: ${socket} }`,
        `auth: { htpasswd: { realm: ${REGISTRY_HOST}, path: ${this.dir}/htpasswd } }`,
      ].join("\n") + "\n",
    );
    // The registry lives as long as the pipe from this process: when it closes (at close(), or
    // when this process dies) the shell kills it.
    this.#process = new Deno.Command("/bin/sh", {
      args: [
        "-c",
        '"$1" serve "$2" </dev/null >/dev/null 2>>"$3" & r=$!; cat >/dev/null; kill -9 $r; wait $r',
        "sh",
        program,
        `${this.dir}/config.yml`,
        `${this.dir}/registry.log`,
      ],
      env: { PATH },
      clearEnv: true,
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const exited = this.#process.status.then(() => true);
    for (const started = Date.now();;) {
      const up = await Deno.connect({ transport: "unix", path: socket }).then((conn) => {
        conn.close();
        return true;
      }, () => false);
      if (up) break;
      if (await Promise.race([exited, sleep(5).then(() => false)])) {
        throw new Error(`docker-registry exited: ${await this.#log()}`);
      }
      if (Date.now() - started > START_TIMEOUT_MS) {
        throw new Error(`docker-registry did not answer on ${socket}: ${await this.#log()}`);
      }
    }
    this.#client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
    await pushCatalogueImages(
      { url: `http://${REGISTRY_HOST}`, ...REGISTRY_ACCOUNT, client: this.#client },
      MIRRORED_IMAGES,
      `${this.dir}/mirror`,
      findHostTools(),
    );
  }

  async #log(): Promise<string> {
    const text = await Deno.readTextFile(`${this.dir}/registry.log`).catch(() => "");
    return text.trim().split("\n").slice(-5).join("\n") || "(no log)";
  }

  /** Ends the registry (waiting for a start under way) and removes everything it made. */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      await Promise.all([this.#front.close(), this.#proxy.close()]);
      await this.#started?.catch(() => {});
      await this.#stop();
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
      if (this.sockets !== this.dir) {
        await Deno.remove(this.sockets, { recursive: true }).catch(() => {});
      }
    })();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
