/**
 * A "pod" on this machine, so that transfers are tested without a cluster: {@link LocalPod.exec}
 * serves the real copies (`copyToPod`, `copyFromPod` in src/transfer/copy.ts) a local process as
 * their exec, run with the tools a pod would have: the host's GNU userland, or busybox alone
 * (every applet linked into a private PATH, `busybox sh` as the shell). {@link sendToPod} and
 * {@link bringBack} are those copies against it; only the process differs from a hook's copy.
 *
 * The session keeps the contract of the real exec (src/kube/exec.ts) wherever a copy could depend
 * on it: the v5 protocol (closing stdin is EOF), stdout and stderr paced by the same streams, the
 * result only once all output was delivered, `close()` and an aborted signal ending it as lost at
 * once, and a `stdoutSink` given views of one reused buffer, valid only during the call. It
 * differs where the network would: a command that cannot be started throws from the opener
 * (the real one rejects `result`), and `idleTimeoutMs` (there are no frames) is refused.
 *
 * @module
 */
import {
  EXEC_PROTOCOLS,
  type ExecOpener,
  type ExecOptions,
  type ExecResult,
  type ExecSession,
} from "../../src/kube/exec.ts";
import { outputStream } from "../../src/kube/exec_output.ts";
import {
  copyFromPod,
  type CopyFromPodOptions,
  copyToPod,
  type CopyToPodOptions,
  type PodTarget,
} from "../../src/transfer/copy.ts";
import type { TransferReport } from "../../src/transfer/progress.ts";

export type Flavor = "gnu" | "busybox";

export interface LocalPod extends AsyncDisposable {
  /** What the copies are told they talk to; the exec runs here whatever it names. */
  target: PodTarget;
  /** Runs `options.command` as a local process with this pod's tools. */
  exec: ExecOpener;
  /** Runs `sh -c script` to its end: its exit code and stderr. */
  run(script: string): Promise<{ code: number; stderr: string }>;
}

/** A "pod" of the given flavor; disposing it removes the busybox applet directory. */
export async function localPod(flavor: Flavor): Promise<LocalPod> {
  let bin: string | undefined;
  if (flavor === "busybox") {
    bin = await Deno.makeTempDir({ prefix: "kubehook-busybox-" });
    const out = await new Deno.Command("busybox", { args: ["--install", "-s", bin] }).output();
    if (!out.success) throw new Error("busybox --install failed");
  }
  const target = { namespace: "local", pod: flavor, container: "job" };
  // Whatever keeps it from starting rejects, as an exec that cannot be opened does.
  const exec: ExecOpener = (options) =>
    Promise.try(() => {
      if (options.idleTimeoutMs !== undefined) {
        throw new Error("The local exec sends no frames, so it has no idle timeout.");
      }
      options.signal?.throwIfAborted();
      return localSession(spawn(options.command, options.stdin, bin), options);
    });
  return {
    target,
    exec,
    async run(script) {
      const session = await exec({ ...target, command: ["sh", "-c", script], stdin: false });
      const [result, , stderr] = await Promise.all([
        session.result,
        session.stdout.cancel(),
        new Response(session.stderr).text(),
      ]);
      if (result.kind === "lost") throw new Error(`sh -c ${script} was lost: ${result.reason}`);
      return { code: result.exitCode, stderr };
    },
    async [Symbol.asyncDispose]() {
      if (bin) await Deno.remove(bin, { recursive: true });
    },
  };
}

/** Starts `argv`: with busybox, a bare name is one of the applets, as in an image that has
 * nothing else. */
function spawn(argv: string[], stdin: boolean, bin: string | undefined): Deno.ChildProcess {
  const [program, ...args] = argv;
  const io = { args, stdin: stdin ? "piped" : "null", stdout: "piped", stderr: "piped" } as const;
  if (!bin) return new Deno.Command(program, io).spawn();
  const path = program.includes("/") ? program : `${bin}/${program}`;
  return new Deno.Command(path, { ...io, env: { PATH: bin }, clearEnv: true }).spawn();
}

/** Bytes handed to a `stdoutSink` at a time, as the real exec hands it a frame at a time. */
const SINK_PIECE = 64 * 1024;

/** `child` as an exec session (see the module doc for how faithful). */
function localSession(child: Deno.ChildProcess, options: ExecOptions): ExecSession {
  let settled = false;
  let resolveResult!: (result: ExecResult) => void;
  const result = new Promise<ExecResult>((resolve) => resolveResult = resolve);
  const stdout = pacedOutput(() => settled);
  const stderr = pacedOutput(() => settled);
  const readers = [child.stdout.getReader(), child.stderr.getReader()];
  const writer = options.stdin ? child.stdin.getWriter() : undefined;

  const end = (ended: ExecResult) => {
    if (settled) return;
    settled = true;
    options.signal?.removeEventListener("abort", onAbort);
    stdout.close();
    stderr.close();
    resolveResult(ended);
  };
  // Ends at once, as the real exec does without waiting for the server: the caller may be about
  // to try again. The pipes are let go too, since what the shell started may still hold them.
  const stop = (reason: string) => {
    if (settled) return;
    try {
      child.kill("SIGKILL");
    } catch {
      // It had already exited; its output was not all delivered yet.
    }
    for (const reader of readers) reader.cancel().catch(() => {});
    writer?.abort().catch(() => {});
    end({ kind: "lost", reason });
  };
  const onAbort = () => stop("the exec was aborted");
  options.signal?.addEventListener("abort", onAbort, { once: true });

  // Views of one buffer, overwritten by the next piece and wiped after each call, so a sink that
  // keeps one (instead of writing it during the call) reads garbage, as it would with the real
  // exec's receive buffer.
  const sink = options.stdoutSink;
  const piece = new Uint8Array(SINK_PIECE);
  const toSink = sink && ((chunk: Uint8Array) => {
    for (let at = 0; at < chunk.length && !settled; at += SINK_PIECE) {
      const view = piece.subarray(0, Math.min(SINK_PIECE, chunk.length - at));
      view.set(chunk.subarray(at, at + view.length));
      try {
        sink(view);
      } catch (err) {
        stop(`the receiver of the output failed: ${(err as Error).message}`);
      }
      view.fill(0);
    }
  });
  const pumping = [
    pump(readers[0], stdout, toSink ?? stdout.push, () => settled),
    pump(readers[1], stderr, stderr.push, () => settled),
  ];
  // The exit status comes after all output, as the status frame comes after the output frames.
  Promise.all([child.status, ...pumping]).then(([status]) =>
    end({ kind: "exited", exitCode: status.code })
  );

  const stdin = writer && new WritableStream<Uint8Array>({
    async write(chunk) {
      if (settled) throw new Error("Cannot send stdin: the session has ended.");
      // The real exec has framed (copied) a chunk once its write resolves, so writers hand it
      // views of a buffer they reuse (sendArchive does): the copy keeps that true here.
      await writer.write(chunk.slice());
    },
    async close() {
      if (!settled) await writer.close();
    },
    abort() {
      stop("stdin was aborted");
    },
  });
  return {
    protocol: EXEC_PROTOCOLS[0],
    stdin: stdin ?? null,
    stdout: stdout.stream,
    stderr: stderr.stream,
    result,
    close: () => stop("the session was closed by kubehook"),
  };
}

/** The real exec's output stream (exec_output.ts: copies, dropped once cancelled, a high-water
 * mark), with a wait for room. */
function pacedOutput(ended: () => boolean) {
  let wake: (() => void) | undefined;
  const output = outputStream(() => {
    wake?.();
    wake = undefined;
  });
  return {
    ...output,
    /** Resolves once the reader wants more, or the session ended. */
    async room() {
      while (!ended() && !output.hasRoom()) await new Promise<void>((resolve) => wake = resolve);
    },
    close() {
      output.close();
      wake?.();
    },
  };
}

/** Reads one of the child's pipes to its end into `deliver`, while `output` has room. */
async function pump(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  output: { room(): Promise<void> },
  deliver: (chunk: Uint8Array) => void,
  ended: () => boolean,
): Promise<void> {
  try {
    while (true) {
      await output.room();
      if (ended()) return;
      const { done, value } = await reader.read();
      if (done || ended()) return;
      deliver(value);
    }
  } catch {
    // The pipe was let go (the session was closed); the session has its result already.
  }
}

/** Runs `fn` with fresh `host`, `pod` (its `/__w`, not created) and `back` directories. */
export async function withDirs(
  fn: (dirs: { host: string; pod: string; back: string }) => Promise<void>,
): Promise<void> {
  const base = await Deno.makeTempDir({ prefix: "kubehook-roundtrip-" });
  try {
    const dirs = { host: `${base}/host`, pod: `${base}/pod/__w`, back: `${base}/back` };
    await Deno.mkdir(dirs.host);
    await Deno.mkdir(dirs.back);
    await fn(dirs);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

/** The options of a copy but its directories; gzip off unless asked for. */
type LocalCopyOptions<T> = Omit<T, "hostPath" | "podPath" | "gzip"> & { gzip?: boolean };

/** Copies `host` (all of it, or `options.paths`) into `pod` with `copyToPod`, into a local pod of
 * the flavor. Throws the copy's `TransferError` when it fails. */
export async function sendToPod(
  flavor: Flavor,
  host: string,
  pod: string,
  options: LocalCopyOptions<CopyToPodOptions> = {},
): Promise<TransferReport> {
  await using local = await localPod(flavor);
  return await copyToPod(local.exec, local.target, {
    ...options,
    hostPath: host,
    podPath: pod,
    gzip: options.gzip ?? false,
  });
}

/** Copies what changed in `pod` (per `options`: `since`, `window`, `listing`, ...) back into
 * `back` with `copyFromPod`, from a local pod of the flavor. Throws the copy's `TransferError`
 * when it fails. */
export async function bringBack(
  flavor: Flavor,
  pod: string,
  back: string,
  options: LocalCopyOptions<CopyFromPodOptions> = {},
): Promise<TransferReport> {
  await using local = await localPod(flavor);
  return await copyFromPod(local.exec, local.target, {
    ...options,
    hostPath: back,
    podPath: pod,
    gzip: options.gzip ?? false,
  });
}
