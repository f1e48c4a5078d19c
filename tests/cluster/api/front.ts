/**
 * The cluster's TLS front door. It reads the head of the first request on each connection:
 * upgrades (WebSocket exec and attach; SPDY, to be refused) are handed over with the raw
 * connection, so the session
 * layer owns the socket and can cut or stall it; every other connection is spliced byte for
 * byte to the internal `Deno.serve` HTTP server on a loopback port. Clients open a fresh
 * connection for each WebSocket (kubectl, client-go, Deno's WebSocket), so routing on the first
 * request is enough.
 *
 * @module
 */
import { writeAll } from "./websocket.ts";
import { noDelayOnAllSockets } from "./no_delay.ts";

/** An upgrade request with the connection it arrived on. */
export interface RawUpgrade {
  request: Request;
  conn: Deno.Conn;
  /** Bytes read after the request head (the start of the WebSocket stream, usually empty). */
  leftover: Uint8Array;
}

/** Where the front door sends things. */
export interface FrontOptions {
  listener: Deno.Listener;
  /** The internal plain-HTTP server's port on 127.0.0.1. */
  backendPort: number;
  onUpgrade: (upgrade: RawUpgrade) => Promise<void>;
}

const MAX_HEAD = 64 * 1024;
const HEAD_END = new TextEncoder().encode("\r\n\r\n");

function indexOfHeadEnd(bytes: Uint8Array): number {
  outer: for (let i = 0; i + 4 <= bytes.length; i++) {
    for (let j = 0; j < 4; j++) if (bytes[i + j] !== HEAD_END[j]) continue outer;
    return i;
  }
  return -1;
}

const REASON_PHRASES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  415: "Unsupported Media Type",
  422: "Unprocessable Entity",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** Parses a request head into a Request (without body) for `origin`. */
export function parseHead(head: string, origin: string): Request {
  const [requestLine, ...lines] = head.split("\r\n");
  const [method, target] = requestLine.split(" ");
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return new Request(new URL(target, origin), { method, headers });
}

/** Writes a whole HTTP/1.1 response on a raw connection and closes it. */
export async function writeRawResponse(conn: Deno.Conn, response: Response): Promise<void> {
  const body = new Uint8Array(await response.arrayBuffer());
  const phrase = response.statusText || REASON_PHRASES[response.status] || "Error";
  let head = `HTTP/1.1 ${response.status} ${phrase}\r\n`;
  response.headers.forEach((value, name) => (head += `${name}: ${value}\r\n`));
  head += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  try {
    await writeAll(conn, new Uint8Array([...new TextEncoder().encode(head), ...body]));
  } finally {
    closeQuietly(conn);
  }
}

async function copy(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    const n = await from.read(buffer);
    if (n === null) return;
    await writeAll(to, buffer.subarray(0, n));
  }
}

/** Accepts connections until the listener closes; `close()` ends every open connection. */
export class FrontDoor {
  #conns = new Set<Deno.Conn>();
  #accepting: Promise<void>;

  constructor(private options: FrontOptions) {
    this.#accepting = this.#accept();
  }

  async close(): Promise<void> {
    closeQuietly(this.options.listener);
    for (const conn of this.#conns) closeQuietly(conn);
    await this.#accepting;
  }

  #track(conn: Deno.Conn): () => void {
    this.#conns.add(conn);
    return () => this.#conns.delete(conn);
  }

  async #accept(): Promise<void> {
    const running = new Set<Promise<void>>();
    for await (const conn of this.options.listener) {
      noDelayOnAllSockets();
      const done = this.#serve(conn).catch(() => {}).finally(() => running.delete(done));
      running.add(done);
    }
    await Promise.allSettled([...running]);
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const untrack = this.#track(conn);
    try {
      let buffered = new Uint8Array(0);
      const chunk = new Uint8Array(16 * 1024);
      let end = -1;
      while (end < 0) {
        const n = await conn.read(chunk);
        if (n === null || buffered.length > MAX_HEAD) return closeQuietly(conn);
        buffered = new Uint8Array([...buffered, ...chunk.subarray(0, n)]);
        end = indexOfHeadEnd(buffered);
      }
      const head = new TextDecoder().decode(buffered.subarray(0, end));
      // Any upgrade (WebSocket, or SPDY which is refused with a Status) is answered here.
      if (/^upgrade:/im.test(head)) {
        const request = parseHead(head, "https://127.0.0.1");
        await this.options.onUpgrade({ request, conn, leftover: buffered.slice(end + 4) });
        return;
      }
      await this.#splice(conn, buffered);
    } finally {
      untrack();
    }
  }

  async #splice(conn: Deno.Conn, start: Uint8Array): Promise<void> {
    const backend = await Deno.connect({ hostname: "127.0.0.1", port: this.options.backendPort });
    const untrack = this.#track(backend);
    try {
      await writeAll(backend, start);
      // The client ending its side ends the backend's request side; the backend ending its
      // responses ends the whole connection.
      const up = copy(conn, backend).then(() => backend.closeWrite()).catch(() => {});
      await copy(backend, conn).catch(() => {});
      closeQuietly(backend);
      closeQuietly(conn);
      await up;
    } finally {
      untrack();
      closeQuietly(backend);
    }
  }
}

/** Closes a connection that may already be closed. */
function closeQuietly(conn: Deno.Conn | Deno.Listener): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
