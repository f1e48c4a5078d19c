/**
 * The opening handshake of kubehook's WebSocket client (`websocket.ts`) on a raw connection: the
 * HTTP/1.1 upgrade request, its answer's checks (Sec-WebSocket-Accept, the subprotocol), and for a
 * refused upgrade the body (by Content-Length, chunked, or up to the end of the connection), which
 * carries the API server's Status.
 *
 * @module
 */
import type { V1Status } from "@kubernetes/client-node";
import { describeCall, KubeApiError } from "./errors.ts";
import { acceptKey } from "./websocket_frames.ts";

/** Sends the upgrade request for `url` and checks the answer: the subprotocol chosen (one of
 * `protocols`) and the bytes read past the head (the start of the frame stream). A refusal throws
 * the real status with the server's Status as a {@link KubeApiError}; `io` wraps each read and
 * write, so the caller decides what a broken connection is. */
export async function handshake(
  conn: Deno.Conn,
  url: URL,
  protocols: string[],
  extraHeaders: Record<string, string>,
  io: <T>(pending: Promise<T>) => Promise<T>,
): Promise<{ protocol: string; rest: Uint8Array }> {
  const path = url.pathname;
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  const headers: Record<string, string> = {
    Host: url.host,
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": key,
    "Sec-WebSocket-Version": "13",
    ...(protocols.length ? { "Sec-WebSocket-Protocol": protocols.join(", ") } : {}),
    ...extraHeaders,
  };
  const head = `GET ${path}${url.search} HTTP/1.1\r\n` +
    Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("") + "\r\n";
  await io(writeAll(conn, new TextEncoder().encode(head)));
  const response = await io(readResponseHead(conn));
  if (response.status !== 101) {
    const text = await io(readHttpBody(conn, response));
    throw new KubeApiError("GET", path, response.status, parseStatus(text));
  }
  const what = describeCall("GET", path).text;
  if (response.headers.get("sec-websocket-accept") !== await acceptKey(key)) {
    throw new Error(
      `Could not ${what}: the answer to the WebSocket upgrade has a wrong ` +
        "Sec-WebSocket-Accept, so it does not come from a WebSocket server that read this " +
        "request: check for a proxy between kubehook and the API server.",
    );
  }
  const protocol = response.headers.get("sec-websocket-protocol") ?? "";
  if (protocols.length && !protocols.includes(protocol)) {
    throw new Error(
      `Could not ${what}: the API server chose no WebSocket subprotocol kubehook speaks ` +
        `(offered ${protocols.join(", ")}, got "${protocol}"): a proxy in between may strip ` +
        "Sec-WebSocket-Protocol; let it through.",
    );
  }
  return { protocol, rest: response.rest };
}
/** A response head and the bytes read past it (the start of the body or frame stream). */
export interface ResponseHead {
  status: number;
  headers: Headers;
  rest: Uint8Array;
}

const MAX_HEAD = 64 * 1024;
/** A Status is a few hundred bytes; a proxy's error page is cut here. */
const MAX_BODY = 1024 * 1024;
const CRLF = new Uint8Array([13, 10]);

/** Bytes read from a connection and not consumed yet. */
class Pending {
  bytes: Uint8Array;
  constructor(private conn: Deno.Conn, initial: Uint8Array = new Uint8Array(0)) {
    this.bytes = initial;
  }

  /** Reads more; false at the end of the connection. */
  async more(): Promise<boolean> {
    const chunk = new Uint8Array(16 * 1024);
    const n = await this.conn.read(chunk);
    if (n === null) return false;
    const joined = new Uint8Array(this.bytes.length + n);
    joined.set(this.bytes);
    joined.set(chunk.subarray(0, n), this.bytes.length);
    this.bytes = joined;
    return true;
  }

  /** Reads until `needle` is buffered and returns its index, or -1 at the end or past `limit`. */
  async find(needle: Uint8Array, limit: number): Promise<number> {
    for (let from = 0;;) {
      const at = indexOf(this.bytes, needle, from);
      if (at >= 0) return at;
      from = Math.max(0, this.bytes.length - needle.length + 1);
      if (this.bytes.length > limit || !await this.more()) return -1;
    }
  }

  /** Reads until `n` bytes are buffered; false when the connection ends first. */
  async fill(n: number): Promise<boolean> {
    while (this.bytes.length < n) if (!await this.more()) return false;
    return true;
  }

  take(n: number): Uint8Array {
    const taken = this.bytes.subarray(0, n);
    this.bytes = this.bytes.subarray(n);
    return taken;
  }
}

/** Reads the response head. Throws when the connection ends first or the head is not HTTP. */
async function readResponseHead(conn: Deno.Conn): Promise<ResponseHead> {
  const pending = new Pending(conn);
  const end = await pending.find(new Uint8Array([13, 10, 13, 10]), MAX_HEAD);
  if (end < 0) {
    throw new Error(
      pending.bytes.length > MAX_HEAD
        ? "the response head is larger than 64 KiB"
        : "the connection closed before the answer to the WebSocket upgrade arrived",
    );
  }
  const [statusLine, ...lines] = new TextDecoder().decode(pending.take(end)).split("\r\n");
  pending.take(4);
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!status) throw new Error(`the answer to the WebSocket upgrade is not HTTP: "${statusLine}"`);
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return { status: Number(status[1]), headers, rest: pending.bytes };
}

/** Reads the body that follows `head` as text (at most 1 MiB of it). */
async function readHttpBody(conn: Deno.Conn, head: ResponseHead): Promise<string> {
  const pending = new Pending(conn, head.rest);
  const parts: Uint8Array[] = [];
  const length = head.headers.get("content-length");
  if (/chunked/i.test(head.headers.get("transfer-encoding") ?? "")) {
    let total = 0;
    while (total <= MAX_BODY) {
      const lineEnd = await pending.find(CRLF, MAX_BODY);
      if (lineEnd < 0) break;
      const size = parseInt(new TextDecoder().decode(pending.take(lineEnd)), 16);
      pending.take(2);
      if (!(size > 0) || !await pending.fill(size + 2)) break;
      parts.push(pending.take(size));
      pending.take(2);
      total += size;
    }
  } else if (length !== null) {
    const size = Math.min(Number(length) || 0, MAX_BODY);
    await pending.fill(size);
    parts.push(pending.take(size));
  } else {
    while (pending.bytes.length <= MAX_BODY && await pending.more());
    parts.push(pending.take(MAX_BODY));
  }
  const decoder = new TextDecoder();
  return parts.map((p) => decoder.decode(p, { stream: true })).join("") + decoder.decode();
}

/** The Status in an error body, or the text itself when it is none (a proxy's page). */
function parseStatus(text: string): V1Status | string {
  try {
    const body = JSON.parse(text);
    return typeof body === "object" && body !== null ? body : text;
  } catch {
    return text;
  }
}

/** Writes all of `bytes` (a write may take only part). */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await conn.write(bytes.subarray(written));
  }
}

function indexOf(bytes: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
