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
import { Channel, CLOSE_STDIN_FRAME, exitCodeFromStatus, stdinFrames } from "./exec_channels.ts";
import { podsPath, podSubresourcePath } from "./paths.ts";
import { isRetryableStatus, retryDelay, sleep } from "./retry.ts";

/** Offered in order of preference: only v5 can end stdin without ending the exec. */
export const EXEC_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/** stdin writes wait while more than this is queued on the socket. */
const STDIN_HIGH_WATER = 4 * 1024 * 1024;

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
  /** Not paced: the WebSocket API cannot pause its sender, so read them promptly. Both close
   * when the session ends. */
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  /** Rejects with a {@link KubeApiError} when the server reports a failure that is not an exit
   * code (e.g. the executable does not exist). */
  result: Promise<ExecResult>;
  /** Ends the session now (result: lost, unless it had already ended). */
  close(): void;
}

/** Starts `command` in the container and resolves once the WebSocket is open. A failed upgrade
 * throws the API server's real answer (403 with the missing permission, 404 for a missing pod)
 * as a {@link KubeApiError}; 429/5xx answers and connection failures are retried first, which is
 * safe because the command has not started. An upgrade lost in between (a proxy without
 * WebSocket support) throws an Error that says so. */
export async function openExec(client: KubeClient, options: ExecOptions): Promise<ExecSession> {
  const path = podSubresourcePath(options.namespace, options.pod, "exec");
  const query: Query = {
    command: options.command,
    container: options.container,
    stdin: options.stdin || undefined,
    stdout: true,
    stderr: true,
  };
  const started = Date.now();
  for (let attempt = 0;; attempt++) {
    const ws = client.openWebSocket(path, query, EXEC_PROTOCOLS);
    ws.binaryType = "arraybuffer";
    const failure = await opened(ws, options.signal);
    options.signal?.throwIfAborted();
    if (failure === undefined) {
      if (EXEC_PROTOCOLS.includes(ws.protocol)) return startSession(ws, path, options);
      ws.close();
      throw new Error(
        `Could not ${describeCall("GET", path).text}: the API server chose no exec subprotocol ` +
          `kubehook speaks (offered ${EXEC_PROTOCOLS.join(", ")}, got "${ws.protocol}"): ` +
          "a proxy in between may strip Sec-WebSocket-Protocol; let it through.",
      );
    }
    const { error, retryable } = await upgradeFailure(client, options, query, failure);
    const delay = retryable
      ? retryDelay(client.retryPolicy, attempt, Date.now() - started)
      : undefined;
    if (delay === undefined) throw error;
    await sleep(delay, options.signal);
  }
}

/** Resolves undefined when `ws` opens, or the error message when it closes first. */
function opened(ws: WebSocket, signal?: AbortSignal): Promise<string | undefined> {
  return new Promise((resolve) => {
    let error = "the connection closed during the upgrade";
    const onAbort = () => ws.close();
    signal?.addEventListener("abort", onAbort, { once: true });
    ws.onerror = (event) => error = (event as ErrorEvent).message || error;
    ws.onopen = () => {
      signal?.removeEventListener("abort", onAbort);
      resolve(undefined);
    };
    ws.onclose = () => {
      signal?.removeEventListener("abort", onAbort);
      resolve(error);
    };
  });
}

/** Why an upgrade failed, and whether trying again may help. Deno's WebSocket does not tell: over
 * wss it retries over HTTP/2 and reports only that attempt's error, never the HTTP status or the
 * Status body. A plain GET of the same URL with the same credentials meets the same
 * authorization and lookup, so its answer (403 with the missing permission, 404 for a missing
 * pod, 503) is the real one. A server that checks for the upgrade before it looks up the pod
 * answers "Upgrade request required" instead, so then the pod is looked up here; when it exists,
 * the failure passed or the upgrade is lost on the way (retried until the budget ends). */
async function upgradeFailure(
  client: KubeClient,
  options: ExecOptions,
  query: Query,
  failure: string,
): Promise<{ error: Error; retryable: boolean }> {
  const path = podSubresourcePath(options.namespace, options.pod, "exec");
  const known = await diagnose(client, path, query) ?? await notRunning(client, options);
  if (known) return known;
  const error = new Error(
    `Could not ${describeCall("GET", path).text}: the WebSocket upgrade failed (${failure}), ` +
      "yet the API server answers the same request without it: a proxy or load balancer " +
      "between kubehook and the API server may not pass WebSocket upgrades (HTTP/1.1 Upgrade).",
  );
  return { error, retryable: true };
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
      `Cannot run a command in container "${name}" of pod ${options.namespace}/${options.pod}: ` +
        `${why}. A job container must keep running for the whole job: give it no entrypoint ` +
        "(kubehook then keeps it alive) or one that does not exit.",
    ),
    retryable: false,
  };
}

/** The failure a plain GET meets, unless it is none or only "Upgrade request required". */
async function diagnose(
  client: KubeClient,
  path: string,
  query: Query,
): Promise<{ error: Error; retryable: boolean } | undefined> {
  try {
    await client.request("GET", path, { query, retry: false });
  } catch (err) {
    if (err instanceof KubeConnectionError) return { error: err, retryable: true };
    const upgradeRequired = err instanceof KubeApiError && err.status === 400 &&
      /upgrade request required/i.test(err.serverMessage);
    if (err instanceof KubeApiError && !upgradeRequired) {
      return { error: err, retryable: isRetryableStatus(err.status, true) };
    }
  }
  return undefined;
}

function startSession(ws: WebSocket, path: string, options: ExecOptions): ExecSession {
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
  const stdout = outputStream();
  const stderr = outputStream();
  let idleTimer: ReturnType<typeof setTimeout> | undefined;

  const settle = () => {
    if (settled) return;
    settled = true;
    clearTimeout(idleTimer);
    options.signal?.removeEventListener("abort", onAbort);
    stdout.close();
    stderr.close();
    if (exit instanceof KubeApiError) rejectResult(exit);
    else if (exit !== undefined) resolveResult({ kind: "exited", exitCode: exit });
    else resolveResult({ kind: "lost", reason: lostReason ?? "the connection ended" });
  };
  // Settles at once instead of on the close event: a stalled peer may never finish the close
  // handshake, and the caller wants to reconnect now.
  const stop = (reason: string) => {
    lostReason ??= reason;
    ws.close();
    settle();
  };
  const onAbort = () => stop("the exec was aborted");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const armIdleTimer = () => {
    if (!options.idleTimeoutMs) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(
      () => stop(`no frame arrived for ${options.idleTimeoutMs} ms`),
      options.idleTimeoutMs,
    );
  };
  armIdleTimer();

  ws.onmessage = (event) => {
    armIdleTimer();
    const frame = new Uint8Array(event.data as ArrayBuffer);
    const payload = frame.subarray(1);
    if (frame[0] === Channel.stdout) stdout.push(payload);
    else if (frame[0] === Channel.stderr) stderr.push(payload);
    else if (frame[0] === Channel.status && exit === undefined) {
      try {
        exit = exitCodeFromStatus(payload, path);
      } catch (err) {
        exit = err as KubeApiError;
      }
      // The server closes next anyway; closing here too does not depend on it.
      ws.close(1000);
    }
  };
  ws.onerror = (event) => {
    lostReason ??= `the connection failed: ${(event as ErrorEvent).message || "unknown error"}`;
  };
  ws.onclose = (event) => {
    lostReason ??= `the connection closed (code ${event.code}${
      event.reason ? `, ${event.reason}` : ""
    }) before the command's exit status arrived`;
    settle();
  };

  const stdin = options.stdin
    ? new WritableStream<Uint8Array>({
      async write(chunk) {
        for (const frame of stdinFrames(chunk)) {
          if (ws.readyState !== WebSocket.OPEN) {
            throw new Error(
              `Cannot send stdin (${what}): the session has ended ` +
                `(${lostReason ?? "the command exited"}).`,
            );
          }
          ws.send(frame);
          // WebSocket has no "drained" event; bufferedAmount is the only signal, so poll it.
          while (ws.bufferedAmount > STDIN_HIGH_WATER && ws.readyState === WebSocket.OPEN) {
            await sleep(1);
          }
        }
      },
      close() {
        if (ws.protocol !== EXEC_PROTOCOLS[0]) {
          throw new Error(
            `Cannot end stdin (${what}): the API server speaks only ${ws.protocol} (Kubernetes ` +
              "before 1.30), which has no way to close stdin but closing the whole exec. " +
              "Upgrade the cluster, or run commands that do not wait for the end of stdin.",
          );
        }
        if (ws.readyState === WebSocket.OPEN) ws.send(CLOSE_STDIN_FRAME);
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

/** A readable side fed by WebSocket messages; chunks are views of the received messages (no copy),
 * dropped once the reader has cancelled. */
function outputStream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let open = true;
  const stream = new ReadableStream<Uint8Array>({
    start: (c) => void (controller = c),
    cancel: () => void (open = false),
  });
  return {
    stream,
    push(bytes: Uint8Array) {
      if (open && bytes.length) controller.enqueue(bytes);
    },
    close() {
      if (!open) return;
      open = false;
      controller.close();
    },
  };
}
