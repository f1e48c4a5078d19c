/**
 * Whole-directory copies between the runner and a job container, each through ONE exec:
 * {@link copyToPod} streams a tar of `<work>` (or of the paths that changed) into `tar x` in the
 * pod and checks the pod's receipt; {@link copyFromPod} streams a tar of what changed in the pod
 * into the host's safe extractor (with `listing`, which also removes what the pod deleted). Both
 * are idempotent, so a connection that breaks or stalls mid-copy is answered by doing the whole
 * copy again (a few times), then by an error that names both paths, the pod and the cause.
 *
 * The step hooks use the same pieces (pod_scripts.ts, receipt.ts, extract.ts) inside their own
 * combined exec; these functions are for prepare_job and cleanup_job. They take the way to open
 * an exec rather than a client, so tests run them unchanged against a local process.
 *
 * @example
 * ```ts
 * const report = await copyToPod(execIn(client), { namespace, pod, container: "job" }, {
 *   hostPath: layout.work, podPath: "/__w", gzip: false,
 *   exclude: ["_temp/_runner_hook_responses"],
 * });
 * ```
 * @module
 */
import { type ArmedExec, armExec } from "../kube/armed_exec.ts";
import type { ExecOpener, ExecResult } from "../kube/exec.ts";
import { gunzipStream } from "./compression.ts";
import { byteTap } from "./counting.ts";
import { type ExtractReport, extractTar, TarExtractor } from "./extract.ts";
import { PackError, packHostTree, type PackOptions } from "./host_pack.ts";
import { sendArchive } from "./send_archive.ts";
import { type PackScriptOptions, podExtractScript, podPackChangedScript } from "./pod_scripts.ts";
import type { TransferReport } from "./progress.ts";
import { extractReceiptProblem, parseReceipt } from "./receipt.ts";

/** The container a copy talks to. */
export interface PodTarget {
  namespace: string;
  pod: string;
  container: string;
}

interface CommonOptions {
  /** The host directory (`<work>`). */
  hostPath: string;
  /** The directory in the container (`/__w`). */
  podPath: string;
  gzip: boolean;
  /** Whole copies tried before giving up on a broken connection (default 3). */
  attempts?: number;
  /** A copy with no bytes moving for this long counts as a broken connection (default 60 s). */
  stallTimeoutMs?: number;
  signal?: AbortSignal;
}

/** `paths`: only these (from `listHostChanges`), default everything; `exclude`: left out of a
 * whole copy; `entryless`: directories the pod has and may not let its user change. */
export interface CopyToPodOptions extends CommonOptions, PackOptions {
  /** A pod-side fragment run in the copy's exec once the archive is extracted, saving the round
   * trip of an exec of its own (prepare_job stamps its first marker this way). Run again when
   * the copy is repeated, so it must be idempotent; what it prints on stdout (the last 64 KiB) is
   * the report's `followUpOutput`. */
  followUp?: string;
}

export type CopyFromPodOptions =
  & CommonOptions
  & Pick<PackScriptOptions, "since" | "window" | "next" | "always" | "exclude" | "listing">;

/** A copy that did not complete; `message` says which, where and why. */
export class TransferError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransferError";
  }
}

/** Copies `hostPath` (all of it, or `paths`) into `podPath` in the container, through execs
 * that `exec` opens. */
export function copyToPod(
  exec: ExecOpener,
  target: PodTarget,
  options: CopyToPodOptions,
): Promise<TransferReport> {
  return withAttempts("to-pod", target, options, async () => {
    const archive = await packHostTree(options.hostPath, options);
    const session = await exec({
      ...target,
      command: ["sh", "-c", extractAndFollowUp(options)],
      stdin: true,
      signal: options.signal,
    }).catch((err) => {
      archive.kill();
      archive.done.catch(() => {});
      throw err;
    });
    using watchdog = stallWatchdog(options.stallTimeoutMs ?? 60_000, session);
    const sent = sendArchive(archive, session.stdin!, {
      gzip: options.gzip,
      onWire: watchdog.poke,
    });
    // A write error is not a verdict: busybox tar exits before the host has sent the archive's
    // trailing zero padding. The receipt and the exit code are the verdict.
    const sending = sent.done.catch(() => {});
    const output = options.followUp === undefined
      ? session.stdout.cancel().then(() => undefined)
      : boundedText(session.stdout);
    const [result, stderr, followUpOutput] = await Promise.all([
      session.result,
      boundedText(session.stderr),
      output,
    ]);
    await sending;
    if (result.kind === "lost") archive.kill();
    const packed = await archive.done.then((r) => r, (err: Error) => err);
    // tar failing to read the runner's files cuts the archive short: what the pod then says about
    // a short archive, or a connection that then broke, follows from it; it is not retried.
    const hostFailed = packed instanceof PackError && !packed.outputClosed;
    if (result.kind === "lost" && !hostFailed) return { lost: result.reason };
    const { receipt, messages } = parseReceipt(stderr);
    const problem = (hostFailed ? packed.message : undefined) ??
      extractReceiptProblem(receipt, sent.count) ?? exitProblem(result) ??
      (packed instanceof Error ? packed.message : undefined);
    if (problem || packed instanceof Error) {
      throw new TransferError(toPodFailure(target, options, problem ?? "", messages));
    }
    return {
      counts: {
        entries: sent.count.entries,
        contentBytes: sent.count.contentBytes,
        wireBytes: sent.wire.bytes,
        deleted: 0,
        rejected: [],
        warnings: packed.warnings,
        followUpOutput,
      },
    };
  });
}

/** The script of a copy into the pod: the extraction, then the follow-up if it succeeded. */
function extractAndFollowUp(options: CopyToPodOptions): string {
  const extract = podExtractScript(options.podPath, { gzip: options.gzip });
  return options.followUp === undefined ? extract : `${extract} && {\n${options.followUp}\n}`;
}

/** Copies what changed in `podPath` (since `since`, or everything) into `hostPath`, through execs
 * that `exec` opens. */
export function copyFromPod(
  exec: ExecOpener,
  target: PodTarget,
  options: CopyFromPodOptions,
): Promise<TransferReport> {
  return withAttempts("from-pod", target, options, async () => {
    const extract = { protect: options.exclude, listing: options.listing };
    // Without gzip the extractor takes the output as it arrives, as views of the exec's receive
    // buffer (written before the next read): nothing is allocated per frame. Copying 2 GiB back
    // through a stream of fresh chunks left them for the collector: peak RSS 2.1× the baseline.
    let extractor: TarExtractor | undefined;
    try {
      if (!options.gzip) extractor = new TarExtractor(options.hostPath, extract);
    } catch (err) {
      throw new TransferError(fromPodFailure(target, options, (err as Error).message, ""));
    }
    let poke = () => {};
    const wire = byteTap(() => poke());
    /** The extractor's own failure, while the stream went on (the session is ended then). */
    let failed: Error | undefined;
    const session = await exec({
      ...target,
      command: packCommand(options),
      stdin: false,
      signal: options.signal,
      stdoutSink: extractor && ((chunk) => {
        wire.count.bytes += chunk.length;
        poke();
        try {
          extractor.push(chunk);
        } catch (err) {
          failed = err as Error;
          throw err;
        }
      }),
    }).catch((err) => {
      extractor?.close();
      throw err;
    });
    using watchdog = stallWatchdog(options.stallTimeoutMs ?? 60_000, session);
    poke = watchdog.poke;
    // An extraction that fails while the stream goes on failed on its own (a corrupt archive, a
    // full disk): that is the error. One that fails once it ended may have read a cut stream:
    // the session's end tells (only a lost connection is worth another attempt).
    let extracting: Promise<ExtractReport | { failed: Error; own: boolean }>;
    if (extractor) {
      const done = extractor;
      extracting = session.result.then(() => {
        if (failed) {
          done.close();
          return { failed, own: true };
        }
        try {
          return done.finish();
        } catch (err) {
          return { failed: err as Error, own: false };
        }
      }, (err) => {
        done.close();
        throw err;
      });
    } else {
      let streamEnded = false;
      const stream = noticingEnd(session.stdout, () => streamEnded = true)
        .pipeThrough(wire.stream).pipeThrough(gunzipStream());
      extracting = extractTar(stream, options.hostPath, extract).catch((err: Error) => {
        // Failed on its own, with more to come: stop the pod's side. Once the stream has ended
        // there is nothing to stop, and the session's end says whether the connection was cut.
        const own = !streamEnded;
        if (own) session.close();
        return { failed: err, own };
      });
    }
    const [result, stderr, extracted] = await Promise.all([
      session.result,
      boundedText(session.stderr),
      extracting,
    ]);
    const { receipt, messages } = parseReceipt(stderr);
    if ("failed" in extracted && extracted.own) {
      throw new TransferError(fromPodFailure(target, options, extracted.failed.message, messages));
    }
    if (result.kind === "lost") return { lost: result.reason };
    // The pod's own account of a cut stream outranks what the cut did to the extraction.
    const problem = packProblem(receipt) ?? exitProblem(result) ??
      ("failed" in extracted ? extracted.failed.message : undefined);
    if (problem || "failed" in extracted) {
      throw new TransferError(fromPodFailure(target, options, problem ?? "", messages));
    }
    return {
      counts: {
        entries: extracted.entries,
        contentBytes: extracted.contentBytes,
        wireBytes: wire.count.bytes,
        deleted: extracted.deleted,
        listed: extracted.listed,
        rejected: extracted.rejected,
        warnings: "",
      },
    };
  });
}

/** Opens now the exec that {@link copyFromPod} with the same target and options will open (see
 * kube/armed_exec.ts): given the returned opener, that copy starts at once. Dispose it when the
 * copy does not happen. */
export function armCopyFromPod(
  exec: ExecOpener,
  target: PodTarget,
  options: CopyFromPodOptions,
): ArmedExec {
  return armExec(exec, {
    ...target,
    command: packCommand(options),
    stdin: false,
    signal: options.signal,
    // copyFromPod takes the output through a sink unless it is compressed: this marks one.
    stdoutSink: options.gzip ? undefined : () => {},
  });
}

function packCommand(options: CopyFromPodOptions): string[] {
  return ["sh", "-c", podPackChangedScript(options.podPath, options)];
}

/** `source` as it is, calling `ended` once it ends or fails (its connection ended). */
function noticingEnd(
  source: ReadableStream<Uint8Array>,
  ended: () => void,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream({
    async pull(controller) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        ended();
        throw error;
      }
      if (chunk.done) {
        ended();
        controller.close();
      } else controller.enqueue(chunk.value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

/** What one attempt moved; the rest of the report is the same for every attempt. */
type Counts = Pick<
  TransferReport,
  | "entries"
  | "contentBytes"
  | "wireBytes"
  | "deleted"
  | "listed"
  | "rejected"
  | "warnings"
  | "followUpOutput"
>;
type Attempt = { counts: Counts } | { lost: string };

/** Runs `once` until it completes, repeating it after a lost connection. */
async function withAttempts(
  direction: "to-pod" | "from-pod",
  target: PodTarget,
  options: CommonOptions,
  once: () => Promise<Attempt>,
): Promise<TransferReport> {
  const attempts = options.attempts ?? 3;
  const started = performance.now();
  const losses: string[] = [];
  for (let attempt = 1; attempt <= attempts; attempt++) {
    options.signal?.throwIfAborted();
    const outcome = await once();
    if ("counts" in outcome) {
      return {
        ...outcome.counts,
        direction,
        hostPath: options.hostPath,
        podPath: options.podPath,
        gzip: options.gzip,
        attempts: attempt,
        seconds: (performance.now() - started) / 1000,
      };
    }
    losses.push(outcome.lost);
  }
  const what = direction === "to-pod"
    ? `${options.hostPath} to ${options.podPath} in ${podName(target)}`
    : `${options.podPath} in ${podName(target)} to ${options.hostPath}`;
  throw new TransferError(
    `Could not copy ${what}: the exec connection broke ${attempts} times ` +
      `(last: ${losses.at(-1)}). Check that the API server and the node are reachable and stable ` +
      "(proxies or load balancers that cut long connections), then re-run the job.",
  );
}

/** Closes the session when no byte has moved for `ms`: its result is then "lost" (`stalled`
 * says why), and the caller repeats or reports it. `poke` is called for every chunk that moves,
 * so it only notes the time (re-arming a timer per 64 KiB chunk was 130,000 timers for an 8 GiB
 * copy); a check every quarter of the timeout (at most every second) looks at it. `using` stops
 * the check on every way out. */
export function stallWatchdog(ms: number, session: { close(): void }) {
  let last = performance.now();
  let stalled = false;
  const timer = setInterval(() => {
    if (performance.now() - last < ms) return;
    stalled = true;
    session.close();
  }, Math.max(10, Math.min(1000, ms / 4)));
  return {
    poke() {
      last = performance.now();
    },
    /** Whether the watchdog closed the session. */
    get stalled() {
      return stalled;
    },
    [Symbol.dispose]: () => clearInterval(timer),
  };
}

/** All of a stream as text, keeping only the last 64 KiB (tar can be chatty). */
async function boundedText(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    text += decoder.decode(chunk, { stream: true });
    if (text.length > 65536) text = text.slice(-65536);
  }
  return text + decoder.decode();
}

function exitProblem(result: ExecResult): string | undefined {
  if (result.kind === "exited" && result.exitCode !== 0) {
    return `the copy command exited with code ${result.exitCode}`;
  }
  return undefined;
}

function packProblem(receipt: Record<string, number> | undefined): string | undefined {
  if (receipt?.pack_exit === undefined) {
    return "the pod printed no receipt (is `sh` a POSIX shell with `find` and `tar`?)";
  }
  if (receipt.pack_exit !== 0) {
    return `find or tar in the pod exited with code ${receipt.pack_exit}`;
  }
  return undefined;
}

function podName(target: PodTarget): string {
  return `container "${target.container}" of pod ${target.namespace}/${target.pod}`;
}

function toPodFailure(
  target: PodTarget,
  options: CopyToPodOptions,
  problem: string,
  messages: string,
): string {
  return `Could not copy ${options.hostPath} to ${options.podPath} in ${podName(target)}: ` +
    `${problem}${messages ? ` (${lastLines(messages)})` : ""}. ${hint(messages, options.podPath)}`;
}

function fromPodFailure(
  target: PodTarget,
  options: CopyFromPodOptions,
  problem: string,
  messages: string,
): string {
  return `Could not copy ${options.podPath} in ${podName(target)} back to ${options.hostPath}: ` +
    `${problem}${messages ? ` (${lastLines(messages)})` : ""}. ${hint(messages, options.podPath)}`;
}

/** The fix for the failures users meet. */
function hint(messages: string, podPath: string): string {
  if (/permission denied|operation not permitted|read-only file system/i.test(messages)) {
    return `The container's user cannot write ${podPath}: give the pod an fsGroup (or runAsUser) ` +
      "that owns the workspace volume in the pod template's securityContext.";
  }
  if (/not found/i.test(messages)) {
    return "The job image lacks a tool the copy needs (sh, tar, find, wc; gzip when compressing): " +
      "add it to the image, or set KUBEHOOK_TRANSFER_COMPRESSION=none if only gzip is missing.";
  }
  return "See the pod's messages above; the job container image needs a working sh and tar.";
}

function lastLines(text: string): string {
  return text.trim().split("\n").slice(-5).join("; ");
}
