/**
 * Runs a step in the job container so that its result survives a broken exec connection.
 *
 * The first exec receives the step's files and environment as a tar stream on stdin, extracts them,
 * starts the step detached (its own session, output to a file in the pod, exit code to a file written
 * last) and follows the output file. While the step is quiet the follower prints a heartbeat on its
 * own stderr, so idle connections carry traffic and a stalled socket is noticed. When the connection
 * drops or stalls, a new exec resumes following at the byte already shown; the step never starts
 * twice (a `mkdir` lock guards the start). The step's exit code arrives in-band on stderr and as the
 * exec's own exit status.
 *
 * @module
 */
import type { KubeClient } from "../kube/client.ts";
import { openExec } from "../kube/exec.ts";
import type { V1Pod } from "@kubernetes/client-node";
import { KubeApiError, KubeConnectionError } from "../kube/errors.ts";
import { podsPath } from "../kube/paths.ts";
import { podRemoval } from "../kube/pod_status.ts";
import { PackError } from "../transfer/host_pack.ts";
import { RECEIPT_PREFIX } from "../transfer/receipt.ts";
import { CANCEL_GRACE_MS } from "./context.ts";
import { RESUME, startScript, STEP_ROOT, STOP } from "./step_scripts.ts";

/** A step to run. */
export interface DetachedStep {
  client: KubeClient;
  namespace: string;
  pod: string;
  container: string;
  /** Unique per step: names its bookkeeping directory in the pod. */
  id: string;
  workingDirectory: string;
  /** The exact argv of the step (program first). */
  argv: string[];
  /** Pod-side shell fragment that reads the upload (a tar stream) from stdin into place. */
  extractScript: string;
  /** A fresh upload stream for each attempt of the first exec; undefined: nothing to send. */
  upload?: () => Promise<ReadableStream<Uint8Array>>;
  heartbeatMs: number;
  deadlineMs: number;
  signal: AbortSignal;
  /** Receives the step's output, byte-exact and in order. */
  output: (chunk: Uint8Array) => Promise<void>;
  /** Receives kubehook's own messages about reconnecting. */
  log: (line: string) => void;
  /** Called once, when the step's first exec is open (before the step starts): what may overlap
   * the step starts then. */
  onOpened?: () => void;
}

/** The directory in the job container that holds this step's bookkeeping. */
function stepDirectory(id: string): string {
  return `${STEP_ROOT}/${id}`;
}

const MAX_RECONNECTS = 20;
/** Bounds on what the follower's stderr may make kubehook keep (the pod controls it). */
const MAX_CONTROL_LINE = 64 * 1024;
const MAX_CONTROL_MESSAGES = 100;

/** Runs the step and resolves with its exit code (0–255). Throws when the step cannot be started or
 * followed any more (the pod is gone), saying which and why. */
export async function runDetachedStep(step: DetachedStep): Promise<number> {
  const dir = stepDirectory(step.id);
  const ticks = String(Math.max(1, Math.round(step.heartbeatMs / 100)));
  let shown = 0;
  let started = false;
  let opened = false;
  let lastReason = "";
  for (let attempt = 0; attempt <= MAX_RECONNECTS; attempt++) {
    if (step.signal.aborted) return await stopStep(step, dir);
    const command = started ? ["sh", "-c", RESUME, "kubehook", dir, ticks, String(shown)] : [
      "sh",
      "-c",
      startScript(step.extractScript),
      "kubehook",
      dir,
      ticks,
      step.workingDirectory,
      ...step.argv,
    ];
    const upload = started ? undefined : step.upload;
    const outcome = await follow(
      step,
      command,
      upload,
      started,
      shown,
      (n) => shown += n,
      () => started = true,
    );
    if (outcome.kind === "exit") return outcome.code;
    if (outcome.kind === "cancelled") return await stopStep(step, dir);
    if (outcome.kind === "failed") throw new Error(outcome.message);
    // No exec was ever opened for this step, so it cannot have started: there is nothing to
    // resume, and openExec has retried what may pass. Its error names the cause (the server).
    if (outcome.unopened && !opened) throw outcome.unopened;
    opened ||= !outcome.unopened;
    lastReason = outcome.reason;
    step.log(
      `::warning::kubehook: the connection to pod "${step.pod}" broke (${outcome.reason}); ` +
        `reconnecting and resuming the step's output at byte ${shown}.`,
    );
    await new Promise((resolve) => setTimeout(resolve, Math.min(200 * 2 ** attempt, 5_000)));
  }
  throw new Error(
    `kubehook lost the connection to pod "${step.pod}" in namespace "${step.namespace}" ` +
      `${MAX_RECONNECTS} times while following a step and gave up (last: ${lastReason}). Check the ` +
      "network path to the API server (load balancers that cut idle connections; raise " +
      "ACTIONS_RUNNER_HEARTBEAT_DEADLINE_MS).",
  );
}

type Outcome =
  | { kind: "exit"; code: number }
  /** `unopened`: the exec could not even be opened (its error). */
  | { kind: "lost"; reason: string; unopened?: Error }
  | { kind: "cancelled" }
  | { kind: "failed"; message: string };

async function follow(
  step: DetachedStep,
  command: string[],
  upload: (() => Promise<ReadableStream<Uint8Array>>) | undefined,
  resuming: boolean,
  shownBefore: number,
  onShown: (bytes: number) => void,
  onStarted: () => void,
): Promise<Outcome> {
  let session;
  try {
    session = await openExec(step.client, {
      namespace: step.namespace,
      pod: step.pod,
      container: step.container,
      command,
      stdin: upload !== undefined,
      idleTimeoutMs: step.deadlineMs,
      signal: step.signal,
    });
  } catch (error) {
    if (step.signal.aborted) return { kind: "cancelled" };
    // A pod that is gone or stopped is final; anything else about the pod is not kubehook's to retry.
    // (An API server that cannot be reached cannot tell either.)
    const gone = error instanceof KubeConnectionError ? undefined : await podLoss(step);
    if (gone) return { kind: "failed", message: gone };
    if (error instanceof KubeApiError) throw error;
    const unopened = error instanceof Error ? error : new Error(String(error));
    return { kind: "lost", reason: unopened.message, unopened };
  }
  if (!resuming) step.onOpened?.();
  const onAbort = () => session.close();
  step.signal.addEventListener("abort", onAbort, { once: true });
  try {
    // An upload that cannot even start must end the session, or the pod's tar would wait for
    // stdin forever. One that breaks half-way makes the pod's tar fail too, but the runner's
    // failure to read its own files is the cause (the pod only saw a short archive).
    let packFailure: Error | undefined;
    const uploading = upload
      ? upload().then(
        (stream) =>
          stream.pipeTo(session.stdin!).catch((error) => {
            if (error instanceof PackError && !error.outputClosed) packFailure = error;
          }),
        (error: Error) => {
          packFailure = error;
          session.close();
        },
      )
      : Promise.resolve();
    let startedHere = false;
    const control = readControl(session.stderr, () => {
      startedHere = true;
      onStarted();
    });
    let shownHere = 0;
    const output = session.stdout.pipeTo(
      new WritableStream({
        async write(chunk) {
          await step.output(chunk);
          shownHere += chunk.byteLength;
          onShown(chunk.byteLength);
        },
      }),
    ).catch(() => {});
    const result = await session.result;
    await Promise.all([uploading, output]);
    const { exitCode, outputSize, messages } = await control;
    if (packFailure) {
      return {
        kind: "failed",
        message: `kubehook could not send the step's files: ${packFailure.message}`,
      };
    }
    if (step.signal.aborted) return { kind: "cancelled" };
    if (exitCode !== undefined) {
      const missing = outputMissing(outputSize, shownBefore + shownHere);
      if (missing === 0) return { kind: "exit", code: exitCode };
      // The exit marker came, the end of the output did not: the resume prints it (and the
      // marker again).
      return {
        kind: "lost",
        reason: `${
          result.kind === "lost" ? result.reason : "the session ended"
        } with the last ${missing} bytes of the step's output not received`,
      };
    }
    const gone = await podLoss(step);
    if (gone) return { kind: "failed", message: gone };
    if (result.kind === "lost") return { kind: "lost", reason: result.reason };
    if (messages.includes("kubehook-missing")) {
      return {
        kind: "failed",
        message:
          `the step's bookkeeping in pod "${step.pod}" is gone: the job container was restarted ` +
          `or replaced while the step ran, so its result is lost.`,
      };
    }
    if (resuming || startedHere) {
      // The follower was killed (its container is going away, or something killed it): look again.
      return {
        kind: "lost",
        reason: `the follower ended without the step's exit code (exit ${result.exitCode})`,
      };
    }
    return {
      kind: "failed",
      message: `kubehook could not start the step in container "${step.container}" of pod ` +
        `"${step.pod}" (exit ${result.exitCode}): ${messages.join(" ").trim() || "no message"}`,
    };
  } finally {
    step.signal.removeEventListener("abort", onAbort);
  }
}

/** Why the step's container cannot be followed any more — the pod was evicted, failed or
 * deleted, or the container stopped — or undefined while it runs. */
async function podLoss(step: DetachedStep, secondLook = false): Promise<string | undefined> {
  let pod: V1Pod;
  try {
    pod = await step.client.get<V1Pod>(podsPath(step.namespace, step.pod));
  } catch (error) {
    if (error instanceof KubeApiError && error.status === 404) {
      return `the job pod "${step.pod}" in namespace "${step.namespace}" was deleted while the ` +
        `step ran; the step's result is lost with it. Look for who deleted it in the namespace's events.`;
    }
    return undefined;
  }
  const where = `the job pod "${step.pod}" in namespace "${step.namespace}"`;
  const status = pod.status ?? {};
  const removal = podRemoval(pod);
  if (removal) {
    return `${where} ${removal.evicted ? "was evicted" : "is being deleted"} while the step ran ` +
      `(${removal.why}); the step's result is lost with it. Look at the namespace's events for ` +
      "who or what removed it.";
  }
  if (status.phase === "Failed" || status.phase === "Succeeded") {
    return `${where} ${status.reason === "Evicted" ? "was evicted" : `is ${status.phase}`} while ` +
      `the step ran (${status.reason ?? status.phase}: ${status.message ?? "no message"}); the ` +
      `step's result is lost with it. Give the job pod more resources, or find why the node evicted it.`;
  }
  const container = status.containerStatuses?.find((c) => c.name === step.container);
  const ended = container?.state?.terminated;
  if (ended && !secondLook) {
    // An eviction stops the containers before the pod's phase says why: give the status a moment.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return await podLoss(step, true);
  }
  if (ended) {
    return `container "${step.container}" of ${where} stopped while the step ran (exit ` +
      `${ended.exitCode}${
        ended.reason ? `, ${ended.reason}` : ""
      }); the step's result is lost with it.`;
  }
  return undefined;
}

/** How many bytes of the step's output, `size` by the follower's exit marker, did not arrive when
 * `shown` did. The marker travels on stderr, a pipe of its own that the kubelet reads apart from
 * stdout: it can overtake the last of the output, and a connection cut between the two keeps the
 * code and loses that output. Undefined `size` (no marker): nothing known to be missing. */
export function outputMissing(size: number | undefined, shown: number): number {
  return size === undefined ? 0 : Math.max(0, size - shown);
}

/** Reads the follower's stderr: heartbeats are dropped, the start and exit markers are noted, any
 * other line (the extraction's own errors) is kept for the failure message and shown. */
async function readControl(
  stderr: ReadableStream<Uint8Array>,
  onStarted: () => void,
): Promise<{ exitCode?: number; outputSize?: number; messages: string[] }> {
  const messages: string[] = [];
  let exitCode: number | undefined;
  let outputSize: number | undefined;
  let pending = "";
  const take = (line: string) => {
    // The upload's receipt: tar's failure already ends the script before the step starts.
    if (line === "kubehook-alive" || line === "" || line.startsWith(RECEIPT_PREFIX)) return;
    if (line === "kubehook-started") return onStarted();
    const exit = /^kubehook-exit (\d+) (\d+)$/.exec(line);
    if (exit) [exitCode, outputSize] = [Number(exit[1]), Number(exit[2])];
    else if (messages.length < MAX_CONTROL_MESSAGES) messages.push(line);
  };
  try {
    for await (const text of stderr.pipeThrough(new TextDecoderStream())) {
      pending += text;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      lines.forEach(take);
      // The pod writes this stream: a line without an end must not grow without bound.
      if (pending.length > MAX_CONTROL_LINE) {
        take(`${pending.slice(0, MAX_CONTROL_LINE)}…`);
        pending = "";
      }
    }
  } catch {
    // A cut connection ends the stream with an error; what arrived so far still counts.
  }
  take(pending);
  return { exitCode, outputSize, messages };
}

/** Cancels a running step: its process group gets TERM, then KILL; resolves with the code the runner
 * shows for a cancelled step. */
async function stopStep(step: DetachedStep, dir: string): Promise<number> {
  step.log(`kubehook: cancelling the step in pod "${step.pod}".`);
  try {
    const session = await openExec(step.client, {
      namespace: step.namespace,
      pod: step.pod,
      container: step.container,
      command: ["sh", "-c", STOP, "kubehook", dir],
      stdin: false,
      signal: AbortSignal.timeout(CANCEL_GRACE_MS),
    });
    await session.result;
  } catch (error) {
    step.log(
      `kubehook: could not stop the step: ${error instanceof Error ? error.message : error}`,
    );
  }
  return 130;
}
