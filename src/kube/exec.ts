/**
 * Runs a command in a container over the exec WebSocket (`pods/exec`), as web streams: stdin in,
 * stdout and stderr out, and a result that is either the command's exit code or "lost" when the
 * connection broke or stalled before the exit status arrived (the caller decides whether to
 * resume: see docs/design.md, "Steps survive broken exec connections").
 *
 * @example
 * ```ts
 * const session = await openExec(client, {
 *   namespace: "ci", pod: "job", container: "job", command: ["sh", "-c", "exit 7"], stdin: false,
 * });
 * const [result] = await Promise.all([
 *   session.result,
 *   session.stdout.pipeTo(Deno.stdout.writable, { preventClose: true }),
 *   session.stderr.pipeTo(Deno.stderr.writable, { preventClose: true }),
 * ]);
 * // result: { kind: "exited", exitCode: 7 }
 * ```
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { KubeClient, Query } from "./client.ts";
import { describeCall, KubeApiError, KubeConnectionError } from "./errors.ts";
import { Channel, CLOSE_STDIN_FRAME, exitCodeFromStatus, stdinMessages } from "./exec_channels.ts";
import { outputStream } from "./exec_output.ts";
import { podsPath, podSubresourcePath } from "./paths.ts";
import { podRemoval } from "./pod_status.ts";
import { isRetryableStatus, retryDelay, sleep } from "./retry.ts";
import { connectWebSocket, type KubeWebSocket } from "./websocket.ts";

/** Offered in order of preference: only v5 can end stdin without ending the exec. */
export const EXEC_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/** stdin writes wait while more than this is queued on the socket. 1 MiB copies as fast as 4 MiB
 * did (200 MB: 575 against 585 ms) with 3 MB less peak memory (docs/performance.md). */
const STDIN_HIGH_WATER = 1024 * 1024;

export interface ExecOptions {
  namespace: string;
  pod: string;
  /** Defaults on the server side (annotation `kubectl.kubernetes.io/default-container`, then the
   * first container). */
  container?: string;
  /** argv; the kubelet runs it without a shell. */
  command: string[];
  /** Whether the session gets a stdin stream. */
  stdin: boolean;
  /** Aborting closes the session (result: lost). */
  signal?: AbortSignal;
  /** When set, no frame for this long closes the socket and the result is lost; pair it with an
   * in-band heartbeat from the command, since quiet commands send no frames. */
  idleTimeoutMs?: number;
  /** Takes stdout instead of `session.stdout` (which then stays empty): called for each piece as
   * it arrives, with a view of the receive buffer that is valid only during the call, so nothing
   * is allocated per piece. The socket is not read while it runs: a consumer that writes
   * synchronously (the copy back's extractor) paces the command. One that throws ends the
   * session (result: lost). */
  stdoutSink?: (chunk: Uint8Array) => void;
}

/** How a session ended: the command's exit code, or the connection was lost before it arrived. */
export type ExecResult =
  | { kind: "exited"; exitCode: number }
  | { kind: "lost"; reason: string };

export interface ExecSession {
  /** The subprotocol the server chose; under `v4.channel.k8s.io` stdin cannot be closed. */
  protocol: string;
  /** Channel 0, when requested; closing it sends EOF (v5), and fails under v4. */
  stdin: WritableStream<Uint8Array> | null;
  /** Paced: while either holds more than `OUTPUT_HIGH_WATER` (exec_output.ts) unread bytes,
   * nothing more is read from the socket, so read (or cancel) both, or the session waits. Both
   * close when the session ends. */
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  /** Rejects with a {@link KubeApiError} when the server reports a failure that is not an exit
   * code (e.g. the executable does not exist). */
  result: Promise<ExecResult>;
  /** Ends the session now (result: lost, unless it had already ended). */
  close(): void;
}

/** Opens an exec session, as {@link openExec} does on a client. The workspace copies take one
 * instead of a client, so that the same code runs against a pod and, in tests, against a local
 * process (tests/transfer/local_pod.ts). */
export type ExecOpener = (options: ExecOptions) => Promise<ExecSession>;

/** The {@link ExecOpener} of `client`: exec in the pods it reaches. */
export function execIn(client: KubeClient): ExecOpener {
  return (options) => openExec(client, options);
}

/** Starts `command` in the container and resolves once the WebSocket is open. A failed upgrade
 * throws the API server's real answer (403 with the missing permission, 404 for a missing pod)
 * as a {@link KubeApiError}; 429/5xx answers and connection failures are retried first, which is
 * safe because the command has not started. */
export function openExec(client: KubeClient, options: ExecOptions): Promise<ExecSession> {
  return openSession(client, "exec", options);
}

/** Attaches to the container's main process as {@link openExec} runs a command: its stdin (a
 * container with `stdin: true`) and its output from now on. The result is `exited` with code 0
 * when the server ends the session; the container's own exit code is in its status. */
export function openAttach(
  client: KubeClient,
  options: Omit<ExecOptions, "command">,
): Promise<ExecSession> {
  return openSession(client, "attach", { ...options, command: [] });
}

async function openSession(
  client: KubeClient,
  subresource: "exec" | "attach",
  options: ExecOptions,
): Promise<ExecSession> {
  const path = podSubresourcePath(options.namespace, options.pod, subresource);
  const query: Query = {
    command: options.command.length ? options.command : undefined,
    container: options.container,
    stdin: options.stdin || undefined,
    stdout: true,
    stderr: true,
  };
  const started = Date.now();
  for (let attempt = 0;; attempt++) {
    let failure: { error: Error; retryable: boolean };
    try {
      const ws = await connectWebSocket(client.access, client.url(path, query), {
        protocols: EXEC_PROTOCOLS,
        headers: client.authHeaders(),
        signal: options.signal,
        idleTimeoutMs: options.idleTimeoutMs,
      });
      return startSession(ws, path, options);
    } catch (err) {
      options.signal?.throwIfAborted();
      failure = await upgradeFailure(client, options, err);
    }
    const delay = failure.retryable
      ? retryDelay(client.retryPolicy, attempt, Date.now() - started)
      : undefined;
    if (delay === undefined) throw failure.error;
    await sleep(delay, options.signal);
  }
}

/** Why an upgrade failed, and whether trying again may help: connection failures and 429/5xx
 * may pass; a container that is not running says so; "Upgrade request required" means a proxy
 * dropped the upgrade headers. */
async function upgradeFailure(
  client: KubeClient,
  options: ExecOptions,
  err: unknown,
): Promise<{ error: Error; retryable: boolean }> {
  if (err instanceof KubeConnectionError) return { error: err, retryable: true };
  if (!(err instanceof KubeApiError)) return { error: err as Error, retryable: false };
  if (err.status === 400 && /upgrade request required/i.test(err.serverMessage)) {
    const what = describeCall("GET", err.path).text;
    const error = new Error(
      `Could not ${what}: the API server received the request without its WebSocket upgrade: ` +
        "a proxy or load balancer between kubehook and the API server does not pass WebSocket " +
        "upgrades (HTTP/1.1 Upgrade); let them through.",
    );
    return { error, retryable: false };
  }
  if (err.status === 400 || err.status === 500) {
    const known = await notRunning(client, options);
    if (known) return known;
  }
  return { error: err, retryable: isRetryableStatus(err.status, true) };
}

/** The pod's own answer when its container cannot take an exec: the pod is gone (404), or the
 * container is not running (its state says why). */
async function notRunning(
  client: KubeClient,
  options: ExecOptions,
): Promise<{ error: Error; retryable: boolean } | undefined> {
  let pod: V1Pod;
  try {
    pod = await client.request<V1Pod>("GET", podsPath(options.namespace, options.pod), {
      retry: false,
    });
  } catch (err) {
    if (err instanceof KubeConnectionError) return { error: err, retryable: true };
    if (err instanceof KubeApiError) {
      return { error: err, retryable: isRetryableStatus(err.status, true) };
    }
    return undefined;
  }
  // An evicted or deleted pod stops its containers: that, not the container, is the cause.
  const removed = podRemoval(pod);
  const evicted = removed?.evicted || pod.status?.reason === "Evicted";
  if (removed || evicted) {
    const why = removed?.why ?? `Evicted: ${pod.status?.message ?? "no message"}`;
    return {
      error: new Error(
        `Cannot ${options.command.length ? "run a command in" : "attach to"} pod ` +
          `${options.namespace}/${options.pod}: it ${
            evicted ? "was evicted" : "is being deleted"
          } (${why}). Look at the namespace's events for who or what removed it.`,
      ),
      retryable: false,
    };
  }
  const name = options.container ?? pod.spec?.containers?.[0]?.name;
  const state = pod.status?.containerStatuses?.find((c) => c.name === name)?.state;
  if (!state || state.running) return undefined;
  const why = state.terminated
    ? `it exited with code ${state.terminated.exitCode}${
      state.terminated.reason ? ` (${state.terminated.reason})` : ""
    }`
    : `it is waiting (${state.waiting?.reason ?? "unknown reason"})`;
  return {
    error: new Error(
      options.command.length
        ? `Cannot run a command in container "${name}" of pod ${options.namespace}/` +
          `${options.pod}: ${why}. A job container must keep running for the whole job: give ` +
          "it no entrypoint (kubehook then keeps it alive) or one that does not exit."
        : `Cannot attach to container "${name}" of pod ${options.namespace}/${options.pod}: ` +
          `${why}.`,
    ),
    retryable: false,
  };
}

function startSession(ws: KubeWebSocket, path: string, options: ExecOptions): ExecSession {
  const what = describeCall("GET", path).text;
  let exit: number | KubeApiError | undefined;
  let lostReason: string | undefined;
  let settled = false;
  let resolveResult!: (result: ExecResult) => void;
  let rejectResult!: (err: KubeApiError) => void;
  const result = new Promise<ExecResult>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  let wake: (() => void) | undefined;
  const onRoom = () => {
    wake?.();
    wake = undefined;
  };
  const stdout = outputStream(onRoom);
  const stderr = outputStream(onRoom);

  const settle = () => {
    if (settled) return;
    settled = true;
    options.signal?.removeEventListener("abort", onAbort);
    stdout.close();
    stderr.close();
    onRoom();
    if (exit instanceof KubeApiError) rejectResult(exit);
    else if (exit !== undefined) resolveResult({ kind: "exited", exitCode: exit });
    else resolveResult({ kind: "lost", reason: lostReason ?? "the connection ended" });
  };
  // Settles at once instead of after a close handshake: a stalled peer may never answer, and
  // the caller wants to reconnect now.
  const stop = (reason: string) => {
    lostReason ??= reason;
    ws.abort(reason);
    settle();
  };
  const onAbort = () => stop("the exec was aborted");
  options.signal?.addEventListener("abort", onAbort, { once: true });

  // One reader demultiplexes both channels, and reads the socket only while both have room.
  // Messages are views of the socket's receive buffer until the next read: the output streams
  // queue copies, a sink takes them as they are.
  const sink = options.stdoutSink;
  const pump = async () => {
    try {
      while (!settled) {
        while (!settled && !(stdout.hasRoom() && stderr.hasRoom())) {
          await new Promise<void>((resolve) => wake = resolve);
        }
        if (settled) return;
        const frame = await ws.nextMessage();
        if (frame === null) break;
        const payload = frame.subarray(1);
        if (frame[0] === Channel.stdout) {
          if (!sink) stdout.push(payload);
          else if (payload.length) {
            try {
              sink(payload);
            } catch (err) {
              return stop(`the receiver of the output failed: ${(err as Error).message}`);
            }
          }
        } else if (frame[0] === Channel.stderr) stderr.push(payload);
        else if (frame[0] === Channel.status && exit === undefined) {
          try {
            exit = exitCodeFromStatus(payload, path);
          } catch (err) {
            exit = err as KubeApiError;
          }
          // The server closes next anyway; closing here too does not depend on it.
          await ws.close(1000);
          break;
        }
      }
      const close = ws.closeInfo;
      if (exit === undefined) {
        lostReason ??= `the connection closed (code ${close?.code ?? 1006}${
          close?.reason ? `, ${close.reason}` : ""
        }) before the command's exit status arrived`;
      }
    } catch (err) {
      lostReason ??= err instanceof Error ? err.message : String(err);
    }
    settle();
  };
  pump();

  const stdin = options.stdin
    ? new WritableStream<Uint8Array>({
      async write(chunk) {
        if (settled) {
          throw new Error(
            `Cannot send stdin (${what}): the session has ended ` +
              `(${lostReason ?? "the command exited"}).`,
          );
        }
        // Frames queue up to the high-water mark, so reading the next chunk overlaps writing
        // this one; past it, the writer waits until the queue is written. A failed send needs
        // no handling here: the broken connection also ends the session.
        for (const message of stdinMessages(chunk)) {
          const sent = ws.send(message);
          if (ws.bufferedAmount > STDIN_HIGH_WATER) await sent;
          else sent.catch(() => {});
        }
      },
      async close() {
        if (ws.protocol !== EXEC_PROTOCOLS[0]) {
          throw new Error(
            `Cannot end stdin (${what}): the API server speaks only ${ws.protocol} (Kubernetes ` +
              "before 1.30), which has no way to close stdin but closing the whole exec. " +
              "Upgrade the cluster, or run commands that do not wait for the end of stdin.",
          );
        }
        if (!settled) await ws.send(CLOSE_STDIN_FRAME);
      },
      abort() {
        stop("stdin was aborted");
      },
    })
    : null;

  return {
    protocol: ws.protocol,
    stdin,
    stdout: stdout.stream,
    stderr: stderr.stream,
    result,
    close: () => stop("the session was closed by kubehook"),
  };
}
