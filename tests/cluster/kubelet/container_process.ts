/**
 * Starts one container process: joins the pod's network namespace (`nsenter --net`), makes a
 * private mount namespace (`unshare --mount`) where the image's layers are stacked with overlayfs
 * over fresh upper directories, then `bwrap` sandboxes it with its own pid, ipc and uts namespaces
 * (`--as-pid-1`: the command is PID 1, as in a real container), the pod's /etc/hosts and
 * /etc/resolv.conf, the volume binds, the working directory and environment, the capabilities
 * and read-only root of the container's securityContext (capabilities.ts), and
 * `--die-with-parent`, so that nothing outlives the kubelet. A non-root user is set by the image's
 * own `nsenter -S/-G` once the sandbox is built (bwrap can only switch users with a user
 * namespace, which would remap file ownership).
 *
 * bwrap reports the sandbox's PID on `--info-fd` (dup of stdout) and waits on `--block-fd` (dup of
 * stdin) until the kubelet has read it, so the PID always precedes the container's output.
 *
 * @module
 */
import type { HostTools } from "./host_tools.ts";
import type { Layer } from "./images.ts";
import type { Identity } from "./identity.ts";
import { executableProblem, resolveInRoot } from "./root_paths.ts";
import type { Bind } from "./volumes.ts";

/** Everything a container process is made of. */
export interface ContainerLaunch {
  tools: HostTools;
  /** The pod's network namespace file. */
  netns: string;
  hostname: string;
  layers: readonly Layer[];
  /** A fresh directory for this run's overlay upper and work directories. */
  runDir: string;
  binds: readonly Bind[];
  hostsFile: string;
  resolvFile: string;
  env: ReadonlyMap<string, string>;
  argv: readonly string[];
  workingDir: string;
  identity: Identity;
  /** Keep stdin open for attach (`stdin: true`); otherwise the process reads EOF. */
  stdin: boolean;
  /** The process's capabilities (capabilities.ts). */
  capabilities: "ALL" | readonly string[];
  /** The image's files are read-only (`readOnlyRootFilesystem`); volumes stay as bound. */
  readOnlyRoot: boolean;
  /** A PID namespace to join (`/proc/<pid>/ns/pid`) instead of a new one where the command is
   * PID 1: an ephemeral container sharing its target container's processes. */
  pidNamespace?: string;
}

/** A started container process. */
export interface ContainerProcessHandle {
  /** Host PID of the container's PID 1: the target of signals and of exec's `nsenter`. */
  pid: number;
  stdin: WritableStreamDefaultWriter<Uint8Array> | null;
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  /** The exit code (128+signal when killed). */
  exitCode: Promise<number>;
  signal(signal: Deno.Signal): void;
}

/** The runtime could not start the process (kubelet reports reason StartError, exit code 128). */
export class StartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartError";
  }
}

/** Mounts `options mountpoint` pairs until "--", then execs the rest with the info/block fds.
 * With `proc` 1 it first mounts a /proc of the PID namespace it joined: bwrap without a PID
 * namespace of its own binds the /proc it finds, which would otherwise be the host's. */
const MOUNT_THEN_EXEC = 'mount=$1 proc=$2; shift 2; if [ "$proc" = 1 ]; then "$mount" -t proc ' +
  'proc /proc || exit 125; fi; while [ "$1" != -- ]; do "$mount" -t overlay overlay ' +
  '-o "$1" "$2" || exit 125; shift 2; done; shift; exec "$@" 3>&1 4<&0';

/** Starts the process; throws {@link StartError} when it cannot. */
export async function startContainerProcess(
  launch: ContainerLaunch,
): Promise<ContainerProcessHandle> {
  const { tools } = launch;
  const visible = [
    ...launch.layers,
    ...launch.binds.map((b) => ({ target: b.target, lowers: [b.source] })),
  ];
  const problem = executableProblem(
    visible,
    launch.argv[0],
    launch.env.get("PATH") ?? "",
    launch.workingDir,
  );
  if (problem) throw new StartError(runcFailure(problem));
  const root = `${launch.runDir}/root`;
  const mounts: string[] = [];
  for (const [i, layer] of launch.layers.entries()) {
    const upper = `${launch.runDir}/upper${i}`;
    const work = `${launch.runDir}/work${i}`;
    await Deno.mkdir(upper, { recursive: true });
    await Deno.mkdir(work, { recursive: true });
    mounts.push(
      `lowerdir=${layer.lowers.join(":")},upperdir=${upper},workdir=${work}`,
      layer.target === "/" ? root : `${root}${layer.target}`,
    );
  }
  await Deno.mkdir(root, { recursive: true });
  await createMountPoints(launch);
  const child = new Deno.Command(tools.nsenter, {
    args: [
      `--net=${launch.netns}`,
      ...(launch.pidNamespace ? [`--pid=${launch.pidNamespace}`] : []),
      "--",
      tools.unshare,
      "--mount",
      "--propagation",
      "private",
      "--",
      tools.sh,
      "-c",
      MOUNT_THEN_EXEC,
      "sh",
      tools.mount,
      launch.pidNamespace ? "1" : "0",
      ...mounts,
      "--",
      tools.bwrap,
      ...bwrapArgs(launch, root),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    detached: true,
    // Passed on by nsenter, unshare, the mount script and bwrap to the container's process.
    env: Object.fromEntries(launch.env),
    clearEnv: true,
  }).spawn();
  const stdin = child.stdin.getWriter();
  const stdout = child.stdout.getReader();
  const pid = await readSandboxPid(stdout);
  if (pid === undefined) {
    await stdin.close().catch(() => {});
    const error = (await new Response(child.stderr).text()).trim();
    await child.status;
    throw new StartError(
      `failed to create containerd task: ${error || "the sandbox did not start"}`,
    );
  }
  // Unblocks bwrap (--block-fd); later bytes are the container's own stdin.
  await stdin.write(new Uint8Array([10]));
  if (!launch.stdin) await stdin.close().catch(() => {});
  let exited = false;
  const exitCode = child.status.then((status) => {
    exited = true;
    return status.code;
  });
  await untilExecuted(pid, tools.bwrap, () => exited);
  return {
    pid,
    stdin: launch.stdin ? stdin : null,
    stdout: readerStream(stdout),
    stderr: child.stderr,
    exitCode,
    signal: (signal) => {
      try {
        if (!exited) Deno.kill(pid, signal);
      } catch {
        // Exited between the check and the kill.
      }
    },
  };
}

/** Creates the directories that volume mounts need and the container's root lacks, mode 0755 as
 * runc makes them (bwrap would make missing parents 0700, which a non-root user cannot enter):
 * inside the volume that encloses the mount point, else in the upper directory of the image
 * layer that does. Directories the image has are left alone (their owner and mode stay). */
async function createMountPoints(launch: ContainerLaunch): Promise<void> {
  const visible: Layer[] = [...launch.layers];
  for (const bind of launch.binds) {
    const isDir = (await Deno.stat(bind.source).catch(() => undefined))?.isDirectory ?? true;
    const parts = bind.target.split("/").filter(Boolean);
    const wanted = isDir ? parts.length : parts.length - 1;
    for (let n = 1; n <= wanted; n++) {
      const path = `/${parts.slice(0, n).join("/")}`;
      if (resolveInRoot(visible, path)) continue;
      const host = hostDirectoryFor(launch, visible, path);
      await Deno.mkdir(host, { recursive: true, mode: 0o755 });
    }
    visible.push({ target: bind.target, lowers: [bind.source] });
  }
}

/** Where `path` of the container's root lives on the host: under the deepest bind or, failing
 * that, in the upper directory of the deepest image layer above it. */
function hostDirectoryFor(launch: ContainerLaunch, visible: Layer[], path: string): string {
  const above = (target: string) => target === "/" || path.startsWith(`${target}/`);
  const deepest = <T extends { target: string }>(list: T[]) =>
    list.filter((l) => above(l.target)).reduce<T | undefined>(
      (best, l) => (!best || l.target.length > best.target.length ? l : best),
      undefined,
    );
  const binds = visible.slice(launch.layers.length);
  const bind = deepest(binds);
  const layer = deepest([...launch.layers]);
  if (bind && (!layer || bind.target.length >= layer.target.length)) {
    return `${bind.lowers[0]}${path.slice(bind.target.length)}`;
  }
  const index = launch.layers.indexOf(layer!);
  const rest = layer!.target === "/" ? path : path.slice(layer!.target.length);
  return `${launch.runDir}/upper${index}${rest}`;
}

/** The wording runc uses when the command cannot be started. */
export function runcFailure(problem: string): string {
  return "failed to create containerd task: failed to create shim task: OCI runtime create failed: " +
    `runc create failed: unable to start container process: ${problem}: unknown`;
}

function bwrapArgs(launch: ContainerLaunch, root: string): string[] {
  const args = [
    "--die-with-parent",
    ...(launch.pidNamespace ? [] : ["--unshare-pid", "--as-pid-1"]),
    "--unshare-ipc",
    "--unshare-uts",
    "--hostname",
    launch.hostname,
    "--bind",
    root,
    "/",
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/dev/shm",
    "--bind",
    launch.hostsFile,
    "/etc/hosts",
    "--bind",
    launch.resolvFile,
    "/etc/resolv.conf",
  ];
  for (const bind of launch.binds) {
    args.push(bind.readOnly ? "--ro-bind" : "--bind", bind.source, bind.target);
  }
  // The environment is the launcher's own (see startContainerProcess), never an argument: a
  // container's env holds secrets, and a runtime keeps them out of `ps`.
  args.push("--dir", launch.workingDir, "--chdir", launch.workingDir);
  if (launch.readOnlyRoot) args.push("--remount-ro", "/");
  const { uid, gid } = launch.identity;
  const switching = uid !== 0 || gid !== 0;
  // The user switch below needs SETUID and SETGID; giving up uid 0 then clears them, as runc
  // clears a non-root process's effective set.
  const capabilities = launch.capabilities === "ALL"
    ? ["ALL"]
    : [...launch.capabilities, ...(switching ? ["CAP_SETUID", "CAP_SETGID"] : [])];
  args.push("--cap-drop", "ALL", ...capabilities.flatMap((c) => ["--cap-add", c]));
  args.push("--info-fd", "3", "--block-fd", "4", "--");
  if (switching) {
    // The image's nsenter (busybox or util-linux) switches user after bwrap built the sandbox.
    const nsenter = ["/usr/bin/nsenter", "/bin/nsenter"].find((p) =>
      resolveInRoot(launch.layers, p)
    );
    if (!nsenter) {
      throw new StartError(runcFailure("the image has no nsenter to switch to a non-root user"));
    }
    args.push(nsenter, "-S", String(uid), "-G", String(gid), "--");
  }
  return [...args, ...launch.argv];
}

/** Reads bwrap's info JSON (`{"child-pid": N, ...}`) from the start of stdout. */
async function readSandboxPid(
  stdout: ReadableStreamDefaultReader<Uint8Array>,
): Promise<number | undefined> {
  let text = "";
  const decoder = new TextDecoder();
  while (!text.includes("}")) {
    const { done, value } = await stdout.read();
    if (done) return undefined;
    text += decoder.decode(value, { stream: true });
  }
  // Nothing follows the JSON yet: the container is blocked until we answer.
  return JSON.parse(text.slice(0, text.indexOf("}") + 1))["child-pid"];
}

/** Waits until bwrap has built the sandbox and exec'd the command, as runc's start does: until then
 * the process's root is half-built and an exec into it would not find the image's files. There is
 * no fd that tells (bwrap closes its fds early), so the process's argv is watched. */
async function untilExecuted(pid: number, bwrap: string, exited: () => boolean): Promise<void> {
  for (let delay = 1; !exited(); delay = Math.min(delay * 2, 20)) {
    try {
      const argv0 = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0")[0];
      if (argv0 !== bwrap) return;
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

function readerStream(reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
