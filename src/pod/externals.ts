/**
 * The runner's externals (node20, node20_alpine, ...) in the job pod: a container beside the job
 * container copies `/home/runner/externals` from the runner image into the `externals` volume, which
 * the job container mounts read-only at `/__e`, leaves a mark when it is done and then only stays
 * up. prepare_job's exec into the job container waits for that mark ({@link externalsWaitScript}),
 * so every step finds `/__e` complete.
 *
 * Why not an init container, as upstream has it: the kubelet starts the next container only after
 * its next look at the runtime (a relist, about a second on a real node) has seen the init
 * container end. Measured on the real tier, an init container running `true` adds 1.0 s to the
 * pod's start and the copy 2.0 s. A container beside the job container starts in the same pass,
 * after the job's own; prepare_job does not wait for it to run (its start alone can miss the relist
 * that sees the others run), only for its mark, beside the workspace copy (docs/performance.md).
 *
 * @example
 * ```ts
 * const container = externalsContainer("ghcr.io/actions/actions-runner:2.330.0");
 * const state = readExternalsWait("kubehook-externals ready\nID=debian\n");
 * // state.state === "ready", state.rest === "ID=debian\n"
 * ```
 * @module
 */
import type { V1Container } from "@kubernetes/client-node";
import { CONTAINER_EXTERNALS } from "../runner/layout.ts";
import { KEEP_ALIVE_SCRIPT } from "./keep_alive.ts";

/** The container that fills the externals volume; templates address it as `$externals`. */
export const EXTERNALS_CONTAINER = "externals";
/** The volume holding the runner's externals (`/__e`). */
export const EXTERNALS_VOLUME = "externals";

/** Where the runner image keeps its externals. */
const RUNNER_EXTERNALS = "/home/runner/externals";
/** Where the externals container mounts the volume. */
const MOUNT = "/mnt/externals";
/** In the volume: the copy is complete. */
const COPIED = ".kubehook-copied";
/** In the volume: the copy failed; {@link LOG} says why. */
const FAILED = ".kubehook-failed";
/** In the volume: what `cp` printed (removed when it succeeded). */
const LOG = ".kubehook-copy.log";
/** The first word of the wait's answer line. */
const ANSWER = "kubehook-externals";
/** At most this much of a failed copy's output reaches the host. */
const MAX_LOG_BYTES = 4096;
/** What to do when the copy fails or its container cannot start. */
const FIX = "Set ACTIONS_RUNNER_IMAGE to the runner image you run: its /home/runner/externals " +
  "(node for steps) is copied into the pod.";

/** The advice for the externals container's failures, for the pod's watch (`WaitOptions`). */
export const EXTERNALS_ADVICE: Readonly<Record<string, string>> = { [EXTERNALS_CONTAINER]: FIX };

/** The externals container: copies the runner image's externals, marks the copy done (or failed,
 * printing why and exiting, which the pod's watch and the wait both see), then stays up.
 * `-R`, not `-a`: the image's user (runner, 1001) does not own the volume's root, so preserving
 * its times fails with "Operation not permitted" on real clusters and here alike. */
export function externalsContainer(runnerImage: string): V1Container {
  return {
    name: EXTERNALS_CONTAINER,
    image: runnerImage,
    command: [...externalsCopyCommand(RUNNER_EXTERNALS, MOUNT)],
    volumeMounts: [{ name: EXTERNALS_VOLUME, mountPath: MOUNT }],
  };
}

/** The externals container's command, copying `from` into `to`. */
export function externalsCopyCommand(from: string, to: string): readonly string[] {
  const script = `if cp -R "$1/." "$2/" 2>"$2/${LOG}"; then ` +
    `rm -f "$2/${LOG}"; : >"$2/${COPIED}" || exit 1; ` +
    `else cat "$2/${LOG}" >&2; : >"$2/${FAILED}"; exit 1; fi\n` +
    KEEP_ALIVE_SCRIPT;
  return ["sh", "-c", script, "kubehook-externals", from, to];
}

/** How long one exec in the job container waits for the copy: well inside the exec's stall
 * deadline (ACTIONS_RUNNER_HEARTBEAT_DEADLINE_MS), and short enough that the pod's status,
 * read between two waits, tells a container that cannot start in seconds. */
export function externalsWaitMs(stallDeadlineMs: number): number {
  return Math.min(5_000, Math.floor(stallDeadlineMs / 2));
}

/** What the externals container has done, as the job container sees it. */
export type ExternalsState =
  | { state: "ready" }
  | { state: "copying" }
  | { state: "failed"; output: string };

/** A shell fragment for the job container: waits up to `waitMs` for the externals container's mark
 * in `dir` (`/__e`) and prints one answer line; after a failure it prints the copy's output and
 * ends the script (exit 0: the answer is the verdict). Where `sleep` takes no fractions it waits
 * in whole seconds. Whatever follows the fragment prints after the answer line. */
export function externalsWaitScript(waitMs: number, dir: string = CONTAINER_EXTERNALS): string {
  const tenths = Math.max(0, Math.floor(waitMs / 100));
  const seconds = Math.ceil(tenths / 10);
  return `n=${tenths} d=0.1; sleep 0.01 2>/dev/null || { n=${seconds} d=1; }
while :; do
  if [ -e '${dir}/${COPIED}' ]; then echo '${ANSWER} ready'; break; fi
  if [ -e '${dir}/${FAILED}' ]; then
    echo '${ANSWER} failed'; head -c ${MAX_LOG_BYTES} '${dir}/${LOG}' 2>/dev/null; exit 0
  fi
  if [ "$n" -le 0 ]; then echo '${ANSWER} copying'; break; fi
  n=$((n - 1)); sleep "$d"
done`;
}

/** Reads the answer line {@link externalsWaitScript} printed first in `output`; `rest` is what
 * the script printed after it. Throws when the line is missing (a shell that did not run it). */
export function readExternalsWait(output: string): ExternalsState & { rest: string } {
  const end = output.indexOf("\n");
  const line = end < 0 ? output : output.slice(0, end);
  const rest = end < 0 ? "" : output.slice(end + 1);
  if (line === `${ANSWER} ready`) return { state: "ready", rest };
  if (line === `${ANSWER} copying`) return { state: "copying", rest };
  if (line === `${ANSWER} failed`) {
    return { state: "failed", output: rest.slice(0, MAX_LOG_BYTES).trim(), rest: "" };
  }
  throw new Error(
    `The job container's wait for the runner's externals answered ${
      JSON.stringify(line.slice(0, 200))
    }, not "${ANSWER} ready|copying|failed": its \`sh\` did not run the script as a POSIX shell.`,
  );
}

/** The error for a copy that failed: what `cp` said and what to change. */
export function externalsCopyFailed(runnerImage: string, output: string): string {
  return `The job pod's container "${EXTERNALS_CONTAINER}" could not copy ${RUNNER_EXTERNALS} ` +
    `of ACTIONS_RUNNER_IMAGE (${runnerImage}) to ${CONTAINER_EXTERNALS}: ${
      output.split("\n").join(" | ") || "cp failed without a message"
    }. ${FIX}`;
}
