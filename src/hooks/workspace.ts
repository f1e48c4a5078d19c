/**
 * Keeps the runner's `<work>` and the job container's `/__w` in step: the whole tree goes in at
 * prepare_job, only what the runner changed goes in before each step (inside the step's own exec),
 * what the step changed comes back after it, and cleanup_job brings back what is left. Deletions
 * travel both ways as listings of the directories that changed (src/transfer/dir_listing.ts).
 * What changes in the pod between two steps (a process a step left running, a sidecar) comes back
 * after the next step: its window is marked before that step's upload.
 *
 * Bookkeeping lives in `.kubehook/` on both sides and is never synced: on the host the step's
 * environment file (it travels with the upload), in the pod the change markers and step logs.
 * In volume mode the pod mounts the runner's work volume itself, so nothing is copied.
 *
 * @module
 */
import { debug, endGroup, group, warning } from "../runner/workflow_commands.ts";
import type { WorkLayout } from "../runner/layout.ts";
import type { ArmedExec } from "../kube/armed_exec.ts";
import { execIn, type ExecOpener, openExec } from "../kube/exec.ts";
import { runtimeCreatedWorkDirs } from "../pod/action_directories.ts";
import { STEP_READY_FILE } from "../pod/step_pod.ts";
import { workspacePathOf } from "../pod/job_plan.ts";
import { JOB_CONTAINER_NAME } from "../pod/names.ts";
import { chooseGzip, type LinkEstimate, updateLinkEstimate } from "../transfer/compression.ts";
import {
  armCopyFromPod,
  copyFromPod,
  type CopyFromPodOptions,
  copyToPod,
  type PodTarget,
  stallWatchdog,
} from "../transfer/copy.ts";
import { byteTap } from "../transfer/counting.ts";
import {
  hostListings,
  listHostChanges,
  type SyncMark,
  syncMarkNow,
} from "../transfer/host_changes.ts";
import { PackError, packHostTree } from "../transfer/host_pack.ts";
import { podExtractScript, podMarkScript, podWindowEndScript } from "../transfer/pod_scripts.ts";
import { podPruneListing, podPruneScript } from "../transfer/pod_prune.ts";
import { parentOf } from "../transfer/path_safety.ts";
import { formatTransfer, type TransferReport } from "../transfer/progress.ts";
import { parseReceipt } from "../transfer/receipt.ts";
import type { Connection, HookContext, JobState } from "./context.ts";
import { BOOKKEEPING, EXCLUDED } from "./early_sync.ts";

const POD_WORK = "/__w";
/** More pod-only paths than this are not remembered; the pod then deletes nothing any more. */
const MAX_POD_ONLY = 10_000;

/** Where the host and the pod last agreed: the host's clock mark and the pod's marker file; and
 * the exec connection's measured speed, which decides `KUBEHOOK_TRANSFER_COMPRESSION=auto`. */
export interface SyncState {
  host: SyncMark;
  podMark: string;
  link?: LinkEstimate;
  /** Paths the pod holds that the host never got (entries it refused, sockets): the listings
   * sent to the pod name them, so the pod keeps them. null: too many to remember, so the pod
   * deletes nothing the runner deleted. */
  podOnly?: string[] | null;
}

function target(state: JobState): PodTarget {
  return { namespace: state.namespace, pod: state.jobPod, container: JOB_CONTAINER_NAME };
}

function podMark(id: string): string {
  return `${POD_WORK}/${BOOKKEEPING}/marks/${id}`;
}

/** Stamped before a step's upload: what changed in the pod between the last sync and this mark
 * comes back after the step, with what the step changed. */
function windowEnd(id: string): string {
  return podMark(`${id}-pre`);
}

function report(transfer: TransferReport): void {
  const { summary, details, warnings } = formatTransfer(transfer);
  console.log(summary);
  details.forEach(debug);
  warnings.forEach((w) => warning(w));
}

/** prepare_job: copies `<work>` into the pod, stamps the first change marker and reads the
 * container's OS. Resolves with the sync state and whether the container runs Alpine. */
export async function bringWorkspaceIn(
  connection: Connection,
  state: JobState,
  layout: WorkLayout,
  context: HookContext,
): Promise<{ sync?: SyncState; isAlpine: boolean }> {
  const mark = podMark("prepare");
  // The image controls the file: only its start is read.
  const markAndOs = podMarkScript(mark) +
    " && { head -c 65536 /etc/os-release 2>/dev/null; true; }";
  const isAlpine = (osRelease: string) => /^ID="?alpine"?$/m.test(osRelease);
  if (connection.settings.workspace !== "copy") {
    const { stdout } = await execText(connection, state, markAndOs);
    return { isAlpine: isAlpine(stdout) };
  }
  const host = await syncMarkNow();
  // The marker is stamped in the copy's exec, after the extraction.
  const transfer = await copyToPod(execIn(connection.client), target(state), {
    hostPath: layout.work,
    podPath: POD_WORK,
    gzip: chooseGzip(connection.settings.compression, undefined),
    exclude: EXCLUDED,
    entryless: runtimeCreatedWorkDirs(workspacePathOf(layout)),
    signal: context.signal,
    followUp: markAndOs,
  });
  report(transfer);
  return {
    sync: { host, podMark: mark, link: updateLinkEstimate(undefined, transfer) },
    isAlpine: isAlpine(transfer.followUpOutput ?? ""),
  };
}

/** What a step's first exec carries into the pod. */
export interface StepUpload {
  /** Pod-side fragment reading the upload from stdin (or nothing to read in volume mode). */
  extractScript: string;
  /** A fresh upload for each attempt, or undefined when there is nothing to send. */
  stream?: () => Promise<ReadableStream<Uint8Array>>;
  /** Removes the host side of the upload (the environment file). */
  dispose(): Promise<void>;
}

/** Writes the step's environment file (a script step's; a container step has none) under
 * `<work>/.kubehook/steps/<id>/env` and prepares the upload of it plus everything the runner
 * changed since the last sync. */
export async function stepUpload(
  state: JobState,
  layout: WorkLayout,
  id: string,
  environment?: string,
): Promise<StepUpload> {
  const relDir = `${BOOKKEEPING}/steps/${id}`;
  const hostDir = `${layout.work}/${relDir}`;
  await Deno.mkdir(hostDir, { recursive: true, mode: 0o700 });
  if (environment !== undefined) {
    await Deno.writeTextFile(`${hostDir}/env`, environment, { mode: 0o600 });
  }
  const dispose = () => Deno.remove(hostDir, { recursive: true }).catch(() => {});
  try {
    const sync = state.sync;
    if (!sync) return { extractScript: "true", dispose };
    const changed = await listHostChanges(layout.work, sync.host, { exclude: EXCLUDED });
    // The runtime's root-owned directories go without an entry of their own (see packHostTree's
    // `entryless`): left out here, so that the count the pod checks is exactly what is sent.
    const entryless = runtimeCreatedWorkDirs(workspacePathOf(layout));
    const paths = [
      BOOKKEEPING,
      `${BOOKKEEPING}/steps`,
      relDir,
      ...(environment !== undefined ? [`${relDir}/env`] : []),
      ...changed.paths,
    ].filter((path) => !entryless.includes(path));
    // The pod removes what the runner deleted: children of the changed directories not listed.
    const listings = sync.podOnly === null
      ? []
      : hostListings(layout.work, changed.dirs, sync.podOnly);
    let prune = "";
    if (listings.length > 0) {
      const listing = podPruneListing(listings, EXCLUDED);
      await Deno.writeTextFile(`${hostDir}/listing`, listing, { mode: 0o600 });
      paths.push(`${relDir}/listing`);
      prune = ` && ${podPruneScript(POD_WORK, `${POD_WORK}/${relDir}/listing`, sync.podMark)}`;
    }
    debug(
      `step upload: ${
        changed.paths.length + changed.rawPaths.length
      } changed entries under ${layout.work}, ` +
        `${listings.length} directories listed`,
    );
    // `--no-recursion`: one entry per path, known before sending, so the pod checks the count.
    const { rawPaths } = changed;
    const expect = {
      entries: paths.length + rawPaths.length,
      nameNewlines: paths.reduce((n, path) => n + path.split("\n").length - 1, 0) +
        rawPaths.reduce((n, raw) => n + raw.filter((b) => b === 0x0a).length, 0),
    };
    return {
      extractScript: `${podWindowEndScript(windowEnd(id))} && ${
        podExtractScript(POD_WORK, { gzip: false, expect })
      }${prune} && ${podMarkScript(podMark(id))}`,
      stream: async () => {
        // A failed pack errors the stream with tar's own message (host_pack.ts).
        return (await packHostTree(layout.work, { paths, rawPaths })).stream;
      },
      dispose,
    };
  } catch (error) {
    // The environment file holds the step's secrets: it must not outlive a failed upload.
    await dispose();
    throw error;
  }
}

/** Sends a step's upload on an exec of its own (a container step: nothing starts with it) and
 * checks it arrived whole; throws saying what the pod's tar reported. */
export async function sendStepUpload(
  connection: Connection,
  state: JobState,
  upload: StepUpload,
  signal?: AbortSignal,
): Promise<void> {
  // Sending again is safe (the same entries and marks, and the step has not started), so a
  // connection that breaks is answered by sending again, as a copy is (copy.ts).
  const losses: string[] = [];
  while (losses.length < UPLOAD_ATTEMPTS) {
    signal?.throwIfAborted();
    const lost = await sendStepUploadOnce(connection, state, upload, signal);
    if (lost === undefined) return;
    losses.push(lost);
  }
  throw new Error(
    `kubehook could not bring the runner's changes into container "${JOB_CONTAINER_NAME}" of pod ` +
      `${state.namespace}/${state.jobPod} before the step: the exec connection broke ` +
      `${UPLOAD_ATTEMPTS} times (last: ${losses.at(-1)}). Check that the API server and the node ` +
      "are reachable and stable (proxies or load balancers that cut long connections), then " +
      "re-run the job.",
  );
}

/** Whole sends of a step's upload tried before giving up on a broken connection. */
const UPLOAD_ATTEMPTS = 3;

/** One send of {@link sendStepUpload}: resolves when it arrived whole, with the reason when the
 * connection broke first; throws for anything else. */
async function sendStepUploadOnce(
  connection: Connection,
  state: JobState,
  upload: StepUpload,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const session = await openExec(connection.client, {
    ...target(state),
    command: ["sh", "-c", upload.extractScript],
    stdin: upload.stream !== undefined,
    signal,
  });
  // Nothing moving for the heartbeat deadline (the pod neither reads nor answers) is a broken
  // connection like any other: without it a stalled upload waited for ever.
  using watchdog = stallWatchdog(connection.settings.heartbeatDeadlineMs, session);
  let packFailure: PackError | undefined;
  const sending = upload.stream
    ? upload.stream().then((stream) =>
      stream.pipeThrough(byteTap(watchdog.poke).stream).pipeTo(session.stdin!)
    ).catch((error) => {
      if (error instanceof PackError && !error.outputClosed) packFailure = error;
      session.close();
    })
    : Promise.resolve();
  const [result, , stderr] = await Promise.all([
    session.result,
    session.stdout.cancel(),
    new Response(session.stderr).text(),
    sending,
  ]);
  // Before the pod's verdict: a cut archive may even extract without an error there.
  if (packFailure) {
    throw new Error(
      `kubehook could not send the runner's changes for the step: ${packFailure.message}`,
    );
  }
  if (result.kind === "lost") {
    return watchdog.stalled
      ? `nothing moved for ${connection.settings.heartbeatDeadlineMs / 1000} s`
      : result.reason;
  }
  if (result.exitCode === 0) return undefined;
  const { messages } = parseReceipt(stderr);
  throw new Error(
    `kubehook could not bring the runner's changes into container "${JOB_CONTAINER_NAME}" of pod ` +
      `${state.namespace}/${state.jobPod} before the step (exit ${result.exitCode}): ` +
      `${messages || "no message"}. The job image needs a POSIX sh and tar.`,
  );
}

/** After a step: brings back what changed in the pod since the step's upload (the file-command
 * files among it) and between the last sync and the upload, and removes what was deleted in
 * either, then moves the host's mark past kubehook's own writes. */
export async function bringStepChangesBack(
  connection: Connection,
  state: JobState,
  layout: WorkLayout,
  id: string,
  exec: ExecOpener = execIn(connection.client),
): Promise<SyncState | undefined> {
  const sync = state.sync;
  if (!sync) return undefined;
  const marks = stepBackMarks(sync, id);
  const transfer = await stepChangesBack(connection, target(state), layout, marks, exec);
  return {
    host: await syncMarkNow(),
    podMark: marks.next,
    link: updateLinkEstimate(sync.link, transfer),
    podOnly: nextPodOnly(sync.podOnly, transfer.listed),
  };
}

/** Opens the exec of {@link bringStepChangesBack} for step `id` now, while the step runs: given
 * its opener once the step has ended, the copy back starts at once. Undefined without a sync. */
export function armStepChangesBack(
  connection: Connection,
  state: JobState,
  layout: WorkLayout,
  id: string,
): ArmedExec | undefined {
  if (!state.sync) return undefined;
  return armCopyFromPod(
    execIn(connection.client),
    target(state),
    stepBackOptions(layout, stepBackMarks(state.sync, id)),
  );
}

/** Where a step's copy back starts and ends in the pod's time: the step's own marker, the window
 * since the last sync, and the marker stamped in the pod before packing (cleanup then brings back
 * only what changed after it). */
function stepBackMarks(sync: SyncState, id: string) {
  return {
    since: podMark(id),
    window: { from: sync.podMark, to: windowEnd(id) },
    next: podMark(`${id}-back`),
  };
}

/** The pod-only paths after a copy-back: in each directory the pod listed, what it found there. */
function nextPodOnly(
  previous: string[] | null | undefined,
  listed: TransferReport["listed"],
): string[] | null | undefined {
  if (previous === null || !listed) return previous;
  const dirs = new Set(listed.dirs);
  const next = [...(previous ?? []).filter((p) => !dirs.has(parentOf(p))), ...listed.podOnly];
  if (next.length <= MAX_POD_ONLY) return next;
  warning(
    `The job pod holds more than ${MAX_POD_ONLY} entries that cannot be copied to the runner ` +
      "(sockets, links leading out of the workspace), too many to remember: files the runner " +
      "deletes stay in the pod for the rest of this job.",
  );
  return null;
}

/** cleanup_job: brings back what changed in the pod since the last sync (KUBEHOOK_COPY_BACK=
 * changed), or the whole of `/__w` (all), and removes what the pod deleted (with `all`, whatever
 * the pod does not hold). */
export async function bringWorkspaceBack(
  connection: Connection,
  state: JobState,
  layout: WorkLayout,
  context: HookContext,
): Promise<void> {
  const sync = state.sync;
  if (!sync || connection.settings.copyBack === "none") return;
  group("Copying the workspace back from the job pod");
  try {
    report(
      await copyFromPod(execIn(connection.client), target(state), {
        hostPath: layout.work,
        podPath: POD_WORK,
        gzip: chooseGzip(connection.settings.compression, sync.link),
        since: connection.settings.copyBack === "changed" ? sync.podMark : undefined,
        exclude: EXCLUDED,
        listing: true,
        signal: context.signal,
      }),
    );
  } finally {
    endGroup();
  }
}

/** A container step's own pod: copies the whole `<work>` into `target` (the pod's init
 * container), stamps the change marker and then creates the file the init container waits for.
 * Resolves with the marker, from which {@link copyWorkChangesBack} brings the step's changes
 * back. */
export async function copyWorkInto(
  connection: Connection,
  target: PodTarget,
  layout: WorkLayout,
  signal: AbortSignal,
): Promise<string> {
  report(
    await copyToPod(execIn(connection.client), target, {
      hostPath: layout.work,
      podPath: POD_WORK,
      gzip: chooseGzip(connection.settings.compression, undefined),
      exclude: EXCLUDED,
      entryless: runtimeCreatedWorkDirs(workspacePathOf(layout)),
      signal,
    }),
  );
  const mark = podMark("step-pod");
  await runIn(connection, target, `${podMarkScript(mark)} && : >${STEP_READY_FILE}`);
  return mark;
}

/** A container step's own pod: brings back what changed in `target` since `since` (and what it
 * deleted). */
export async function copyWorkChangesBack(
  connection: Connection,
  target: PodTarget,
  layout: WorkLayout,
  since: string,
): Promise<void> {
  await stepChangesBack(connection, target, layout, { since });
}

/** Copies what a step changed in `where` back to `<work>`, deletions included, and sums it up in
 * a group of its own when there was anything. */
async function stepChangesBack(
  connection: Connection,
  where: PodTarget,
  layout: WorkLayout,
  marks: Pick<CopyFromPodOptions, "since" | "window" | "next">,
  exec: ExecOpener = execIn(connection.client),
): Promise<TransferReport> {
  const transfer = await copyFromPod(exec, where, stepBackOptions(layout, marks));
  if (transfer.entries > 0 || transfer.deleted > 0 || transfer.rejected.length > 0) {
    group("kubehook: the step's changes, back to the runner");
    report(transfer);
    endGroup();
  }
  return transfer;
}

function stepBackOptions(
  layout: WorkLayout,
  marks: Pick<CopyFromPodOptions, "since" | "window" | "next">,
): CopyFromPodOptions {
  return {
    hostPath: layout.work,
    podPath: POD_WORK,
    gzip: false,
    exclude: EXCLUDED,
    listing: true,
    ...marks,
  };
}

/** Brings what the runner changed since the last sync into the job container (after a step that
 * ran in a pod of its own), so the next step and cleanup see it there; then, as after a step,
 * what the job pod changed meanwhile comes back and the sync moves past the push. Without that
 * the push fell in the next step's window and came back from the pod as changes of its own. */
export async function pushRunnerChanges(
  connection: Connection,
  state: JobState,
  layout: WorkLayout,
  id: string,
): Promise<void> {
  if (!state.sync) return;
  const upload = await stepUpload(state, layout, id);
  try {
    await sendStepUpload(connection, state, upload);
  } finally {
    await upload.dispose();
  }
  state.sync = await bringStepChangesBack(connection, state, layout, id);
}

/** Runs a short script in the job container and returns its output; throws when it fails. */
function execText(
  connection: Connection,
  state: JobState,
  script: string,
): Promise<{ stdout: string }> {
  return runIn(connection, target(state), script);
}

/** Runs a short script in a container and returns its output; throws when it fails or `signal`
 * aborts it. */
export async function runIn(
  connection: Connection,
  where: PodTarget,
  script: string,
  signal?: AbortSignal,
): Promise<{ stdout: string }> {
  const session = await openExec(connection.client, {
    ...where,
    command: ["sh", "-c", script],
    stdin: false,
    signal,
  });
  // These commands take milliseconds: one that does not end within the heartbeat deadline will
  // not (a stalled connection), and must not hold the hook for ever.
  const deadlineMs = connection.settings.heartbeatDeadlineMs;
  using watchdog = stallWatchdog(deadlineMs, session);
  const [result, stdout, stderr] = await Promise.all([
    session.result,
    new Response(session.stdout).text(),
    new Response(session.stderr).text(),
  ]);
  signal?.throwIfAborted();
  if (result.kind !== "exited" || result.exitCode !== 0) {
    const why = watchdog.stalled
      ? `no answer within ${deadlineMs / 1000} s`
      : result.kind === "lost"
      ? result.reason
      : `exit ${result.exitCode}`;
    throw new Error(
      `A setup command in container "${where.container}" of pod ${where.namespace}/${where.pod} ` +
        `failed (${why}): ` +
        `${stderr.trim() || "no message"}. The job image needs a POSIX sh with touch and cat.`,
    );
  }
  return { stdout };
}
