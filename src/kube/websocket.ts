/**
 * kubehook's own WebSocket client (RFC 6455, client side) over `Deno.connectTls`, for exec.
 * Deno's `WebSocket` cannot pause incoming messages, so a slow consumer made a whole workspace
 * gather in memory, and it hides the HTTP status of a refused upgrade; `WebSocketStream` pauses
 * but cannot take the cluster's CA or client certificate. Here incoming messages are a
 * `ReadableStream` that reads the connection only when its consumer pulls (so TCP flow control
 * slows the server), `send` resolves once the frame is written, and a refused upgrade throws the
 * API server's own Status as a {@link KubeApiError}.
 *
 * @example
 * ```ts
 * const ws = await connectWebSocket(client.access, client.url(path, query), {
 *   protocols: ["v5.channel.k8s.io"], headers: client.authHeaders(),
 * });
 * for await (const message of ws.messages) handle(message);
 * ```
 *
 * @module
 */
import { concat } from "../bytes.ts";
import type { KubeAccess } from "./config.ts";
import { causeText, KubeConnectionError } from "./errors.ts";
import { handshake, writeAll } from "./websocket_handshake.ts";
import { openTunnel } from "./proxy.ts";
import {
  closePayload,
  encodeFrame,
  type Frame,
  FrameDecoder,
  MAX_MESSAGE,
  Opcode,
  parseClosePayload,
} from "./websocket_frames.ts";

export interface WebSocketOptions {
  /** Subprotocols offered, best first; the server must choose one of them. */
  protocols?: string[];
  /** Extra request headers (Authorization). */
  headers?: Record<string, string>;
  /** Aborts the connection attempt and the handshake. */
  signal?: AbortSignal;
  /** How long connecting (proxy tunnel and TLS included) and the upgrade may take together;
   * default {@link HANDSHAKE_TIMEOUT_MS}. */
  handshakeTimeoutMs?: number;
  /** When set, waiting this long for the next bytes while a read is pending aborts the socket
   * with "no frame arrived for N ms". Time the consumer spends not reading does not count. */
  idleTimeoutMs?: number;
}

/** A server that accepts and never answers must not hold a hook: connecting and the upgrade get
 * this long together (a healthy API server answers in milliseconds). */
export const HANDSHAKE_TIMEOUT_MS = 30_000;
/** How long `close()` waits for the server's close frame before cutting the connection. */
const CLOSE_TIMEOUT_MS = 2_000;
/** Frames up to this size (a full exec stdin frame) are built in reused buffers: a copy of a
 * large workspace otherwise allocates its whole size again, and memory waits for the collector. */
const POOLED_FRAME = 64 * 1024 + 16;
/** Spare buffers kept: a full stdin queue (1 MiB, exec.ts) and a little more. */
const POOL_SIZE = 20;
/** Bytes asked of the connection per read. */
const READ_SIZE = 256 * 1024;

/** Opens a WebSocket to `url` (http or https) with `access`'s TLS settings: the cluster's CA and,
 * when given, the client certificate. Throws a {@link KubeConnectionError} when the server
 * cannot be reached and a {@link KubeApiError} with the real status and Status body when it
 * refuses the upgrade. */
export async function connectWebSocket(
  access: KubeAccess,
  url: URL,
  options: WebSocketOptions = {},
): Promise<KubeWebSocket> {
  const path = url.pathname;
  const protocols = options.protocols ?? [];
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const tls = url.protocol === "https:" || url.protocol === "wss:";
  const port = Number(url.port) || (tls ? 443 : 80);
  const limitMs = options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(limitMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  // The caller's abort is rethrown as it is; the deadline is a connection error, which callers
  // retry like any other.
  const failed = (err: unknown, stage: string) => {
    options.signal?.throwIfAborted();
    const cause = deadline.aborted
      ? new Error(`${stage} did not finish within ${limitMs / 1000} s`)
      : err;
    return new KubeConnectionError("GET", path, access, cause);
  };
  let conn: Deno.Conn;
  try {
    conn = await untilAborted(connectSocket(access, hostname, port, tls), signal, closeQuietly);
  } catch (err) {
    throw failed(err, "connecting (TCP, proxy tunnel)");
  }
  const onAbort = () => closeQuietly(conn);
  signal.addEventListener("abort", onAbort, { once: true });
  // A connection that breaks during the handshake is a connection error (retried by callers).
  const io = <T>(pending: Promise<T>) =>
    pending.catch((err) => {
      throw failed(err, "the TLS handshake and WebSocket upgrade");
    });
  try {
    const { protocol, rest } = await handshake(conn, url, protocols, options.headers ?? {}, io);
    if (signal.aborted) throw failed(signal.reason, "the TLS handshake and WebSocket upgrade");
    return new KubeWebSocket(conn, protocol, rest, options.idleTimeoutMs);
  } catch (err) {
    closeQuietly(conn);
    throw err;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** `pending`, or a rejection as soon as `signal` aborts; what `pending` yields after that is
 * handed to `discard` (a connection made too late is closed, not leaked). */
function untilAborted<T>(
  pending: Promise<T>,
  signal: AbortSignal,
  discard: (value: T) => void,
): Promise<T> {
  if (signal.aborted) {
    pending.then(discard, () => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      pending.then(discard, () => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    pending.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** An open client WebSocket. Either side may end it: the server with a close frame (then
 * `messages` ends and {@link closeInfo} tells the code), kubehook with {@link close} or
 * {@link abort}; a broken connection errors `messages` with what happened. */
export class KubeWebSocket {
  /** Data messages (binary or text, as bytes), read from the connection only on demand. */
  readonly messages: ReadableStream<Uint8Array>;
  /** Payloads are views of the decoder's buffer: a message is copied only where it must outlive
   * the next read (see {@link nextMessage}). */
  #decoder = new FrameDecoder(MAX_MESSAGE, { views: true });
  #frames: Frame[] = [];
  #readBuffer = new Uint8Array(READ_SIZE);
  #reading: Promise<unknown> = Promise.resolve();
  #writing: Promise<void> = Promise.resolve();
  #buffered = 0;
  /** Frame buffers already written, for the next frames. */
  #spare: Uint8Array<ArrayBuffer>[] = [];
  #closeSent = false;
  #finished = false;
  #abortReason?: string;
  #closeInfo?: { code: number; reason: string };

  constructor(
    private conn: Deno.Conn,
    /** The subprotocol the server chose ("" when none was offered). */
    readonly protocol: string,
    leftover: Uint8Array,
    private idleTimeoutMs?: number,
  ) {
    this.#frames = this.#decoder.push(leftover);
    this.messages = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const message = await this.#next();
        if (message) controller.enqueue(message.slice());
        else controller.close();
      },
      cancel: () => this.abort("the reader cancelled the messages"),
      // Nothing is read ahead of the consumer: a pull is one read.
    }, { highWaterMark: 0 });
  }

  /** The server's close frame, once one arrived. */
  get closeInfo(): { code: number; reason: string } | undefined {
    return this.#closeInfo;
  }

  /** Bytes of frames sent but not yet written to the connection. */
  get bufferedAmount(): number {
    return this.#buffered;
  }

  /** Sends one binary message (given whole or in parts, joined without an extra copy); resolves
   * once it is written to the connection. Messages go out in the order they were sent. */
  send(data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    if (this.#closeSent || this.#finished) {
      return Promise.reject(new Error(this.#abortReason ?? "the WebSocket is closed"));
    }
    return this.#write(Opcode.binary, data);
  }

  /** The next data message, or null after the server's close frame, read from the connection
   * only now, like {@link messages} but not copied: a view that is valid only until the next read
   * of either (copy what must live longer). A copy back of 2 GiB otherwise allocated 2 GiB in
   * fresh buffers, which waited for the collector (peak RSS twice the baseline). Use one of the
   * two ways of reading, not both. */
  nextMessage(): Promise<Uint8Array | null> {
    return this.#next();
  }

  /** The close handshake: sends a close frame, then reads (and drops) what the server still
   * sends until its close frame, for at most {@link CLOSE_TIMEOUT_MS}. */
  async close(code = 1000, reason = ""): Promise<void> {
    if (this.#closeSent || this.#finished) return;
    this.#closeSent = true;
    await this.#write(Opcode.close, closePayload(code, reason)).catch(() => {});
    const timer = setTimeout(
      () => this.abort("the server did not finish the close handshake"),
      CLOSE_TIMEOUT_MS,
    );
    try {
      while (await this.#next().catch(() => null));
    } finally {
      clearTimeout(timer);
      this.#finish();
    }
  }

  /** Cuts the connection at once, without a close frame; pending and later reads fail with
   * `reason`. */
  abort(reason = "the WebSocket was aborted"): void {
    if (this.#finished) return;
    this.#abortReason = reason;
    this.#finish();
  }

  /** The next data message, or null after a close frame. Calls are served one after another. */
  #next(): Promise<Uint8Array | null> {
    const next = this.#reading.then(() => this.#readMessage());
    this.#reading = next.catch(() => {});
    return next;
  }

  async #readMessage(): Promise<Uint8Array | null> {
    const parts: Uint8Array[] = [];
    let size = 0;
    while (true) {
      const frame = await this.#readFrame();
      if (!frame) return null;
      if (frame.opcode === Opcode.ping) {
        this.#write(Opcode.pong, frame.payload).catch(() => {});
      } else if (frame.opcode === Opcode.close) {
        this.#closeInfo = parseClosePayload(frame.payload);
        if (!this.#closeSent) {
          this.#closeSent = true;
          await this.#write(Opcode.close, frame.payload.subarray(0, 2)).catch(() => {});
        }
        this.#finish();
        return null;
      } else if (frame.opcode !== Opcode.pong) {
        // A whole message in one frame is the frame's view; fragments are copied, since reading
        // the next one may reuse the buffer they are in.
        if (frame.fin && parts.length === 0) return frame.payload;
        parts.push(frame.payload.slice());
        size += frame.payload.length;
        if (size > MAX_MESSAGE) {
          throw new Error(
            `the server sent a WebSocket message of more than ${MAX_MESSAGE} bytes in fragments, ` +
              "more than kubehook accepts",
          );
        }
        if (frame.fin) return concat(parts);
      }
    }
  }

  /** The next frame, reading the connection only when none is decoded yet; null once the
   * socket was closed by a close handshake. */
  async #readFrame(): Promise<Frame | null> {
    while (!this.#frames.length) {
      if (this.#abortReason !== undefined) throw new Error(this.#abortReason);
      if (this.#finished) return null;
      const idle = this.idleTimeoutMs;
      const timer = idle
        ? setTimeout(() => this.abort(`no frame arrived for ${idle} ms`), idle)
        : undefined;
      let n: number | null;
      try {
        n = await this.conn.read(this.#readBuffer);
      } catch (err) {
        if (this.#abortReason !== undefined) throw new Error(this.#abortReason);
        this.abort(`the connection failed: ${causeText(err)}`);
        throw new Error(this.#abortReason);
      } finally {
        clearTimeout(timer);
      }
      if (n === null) {
        if (this.#abortReason !== undefined) throw new Error(this.#abortReason);
        this.abort("the connection ended without a WebSocket close frame");
        throw new Error(this.#abortReason);
      }
      this.#frames = this.#decoder.push(this.#readBuffer.subarray(0, n));
    }
    return this.#frames.shift()!;
  }

  /** Queues one masked frame (a fresh random mask each, as RFC 6455 requires) behind the ones
   * before it, so frames never interleave. */
  #write(opcode: number, payload: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const frame = encodeFrame(opcode, payload, {
      mask: crypto.getRandomValues(new Uint8Array(4)),
      allocate: (size) =>
        size > POOLED_FRAME
          ? new Uint8Array(size)
          : (this.#spare.pop() ?? new Uint8Array(POOLED_FRAME)).subarray(0, size),
    });
    this.#buffered += frame.length;
    const written = this.#writing.catch(() => {}).then(() => {
      if (this.#finished) throw new Error(this.#abortReason ?? "the WebSocket is closed");
      return writeAll(this.conn, frame);
    }).finally(() => {
      this.#buffered -= frame.length;
      if (frame.buffer.byteLength === POOLED_FRAME && this.#spare.length < POOL_SIZE) {
        this.#spare.push(new Uint8Array(frame.buffer));
      }
    });
    this.#writing = written;
    return written;
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    closeQuietly(this.conn);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** A TCP connection to the API server, with TLS unless the URL is plain http. Nagle's algorithm
 * is off: with it, the upgrade request waited for the ACK of the TLS handshake's last message,
 * which the server delays by up to 40 ms — every exec paid that (measured: 50 ms to open an exec
 * on loopback, 8 ms without). `Deno.startTls` takes no client certificate, so with one the
 * connection is made by `Deno.connectTls`, which cannot turn Nagle off, nor use a proxy tunnel.
 * Behind `HTTPS_PROXY` the TCP connection is a `CONNECT` tunnel (proxy.ts). */
async function connectSocket(
  access: KubeAccess,
  hostname: string,
  port: number,
  tls: boolean,
): Promise<Deno.Conn> {
  // The upgrade is an HTTP/1.1 request; HTTP/2 would need RFC 8441.
  const alpnProtocols = ["http/1.1"];
  const caCerts = access.caPem ? [access.caPem] : undefined;
  if (tls && access.certPem && access.keyPem) {
    if (access.proxy) {
      throw new Error(
        `client certificates (${access.source}) cannot be sent through the proxy ` +
          `${access.proxy.host}: add ${hostname} to NO_PROXY, or use a token`,
      );
    }
    return await Deno.connectTls({
      hostname,
      port,
      caCerts,
      cert: access.certPem,
      key: access.keyPem,
      alpnProtocols,
    });
  }
  const tcp = access.proxy
    ? await openTunnel(access.proxy, hostname, port)
    : await Deno.connect({ hostname, port });
  tcp.setNoDelay(true);
  if (!tls) return tcp;
  try {
    return await Deno.startTls(tcp, { hostname, caCerts, alpnProtocols });
  } catch (err) {
    tcp.close();
    throw err;
  }
}
