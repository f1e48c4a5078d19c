/**
 * An exec opened before it is needed. Opening one costs round trips and the container runtime's
 * own start of a process (the API server's upgrade, the kubelet's exec); a command known in
 * advance (a step's copy back) can pay that while something else runs (the step), and then start
 * at once. The armed command waits in the pod for one line, `go`, on its stdin, then `exec`s the
 * real command with stdin closed. It does nothing when the line never comes: a connection that
 * breaks or is closed while it waits ends it without a trace.
 *
 * @example
 * ```ts
 * const armed = armExec(execIn(client), { namespace, pod, container, command, stdin: false });
 * // ... the step runs ...
 * const session = await armed.exec({ namespace, pod, container, command, stdin: false });
 * ```
 * @module
 */
import type { ExecOpener, ExecOptions } from "./exec.ts";

/** An armed exec: {@link ArmedExec.exec} hands it out once, for the command it was armed with. */
export interface ArmedExec extends Disposable {
  /** Opens like the opener it was armed on: the armed session when `options` asks for its
   * command and it is still open, a new one otherwise. */
  exec: ExecOpener;
}

/** What the pod runs while armed: `sh -c ARMED kubehook-armed COMMAND...`. `read` takes one byte
 * at a time from a pipe, so nothing after the line is consumed. */
const ARMED = 'IFS= read -r go && [ "$go" = go ] && exec "$@" </dev/null';

/** Opens `options.command` now, held back until it is asked for. The output goes to whatever
 * `stdoutSink` the asking caller gives (the armed session's is a relay), so a caller must give
 * one, as `options` does here. */
export function armExec(open: ExecOpener, options: ExecOptions): ArmedExec {
  let sink: ((chunk: Uint8Array) => void) | undefined;
  let ended = false;
  const opening = open({
    ...options,
    command: ["sh", "-c", ARMED, "kubehook-armed", ...options.command],
    stdin: true,
    // Nothing arrives before `go`, and the caller's sink is set by then.
    stdoutSink: options.stdoutSink && ((chunk) => sink!(chunk)),
  }).then((session) => {
    session.result.then(() => ended = true, () => ended = true);
    return session;
  });
  // Unused or failed: the caller then opens anew, and that one says what is wrong.
  opening.catch(() => {});
  let claimed = false;
  const close = () => opening.then((session) => session.close(), () => {});
  return {
    exec: async (asked) => {
      const armed = claimed ? undefined : await opening.catch(() => undefined);
      claimed = true;
      const same = armed && !ended && sameCommand(asked.command, options.command) &&
        asked.stdin === options.stdin && !!asked.stdoutSink === !!options.stdoutSink;
      if (!same || asked.signal?.aborted) {
        armed?.close();
        return await open(asked);
      }
      sink = asked.stdoutSink;
      const stdin = armed.stdin!;
      const writer = stdin.getWriter();
      try {
        await writer.write(new TextEncoder().encode("go\n"));
        // Under v4 stdin cannot be closed; the command runs with /dev/null as its stdin anyway.
        await writer.close().catch(() => {});
      } catch {
        // The session broke as it was told to go: its result says so, and the caller repeats.
      }
      if (asked.signal) {
        if (asked.signal.aborted) armed.close();
        else asked.signal.addEventListener("abort", () => armed.close(), { once: true });
      }
      return {
        protocol: armed.protocol,
        stdin: null,
        stdout: armed.stdout,
        stderr: armed.stderr,
        result: armed.result,
        close: () => armed.close(),
      };
    },
    [Symbol.dispose]: () => {
      if (!claimed) void close();
      claimed = true;
    },
  };
}

function sameCommand(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((word, i) => word === b[i]);
}
