/**
 * The real tier's front door: a TLS proxy on 127.0.0.1 in front of the real API server that gives
 * tests the embedded cluster's admin-only `/_cluster/faults` and `/_cluster/stats`. It reads only
 * request heads (to count requests by the authorizer's verb and resource, and exec sessions, and
 * to answer injected `api-error` faults); bodies, responses and WebSocket frames pass through
 * byte for byte, except where a fault cuts (`exec-drop`, `log-drop`) or stalls (`exec-stall`) a
 * stream after a number of bytes (counted as the embedded cluster counts: stream_cut.ts), aimed
 * as there by the exec's `command` parameters and a `skip` count (faults.ts).
 * `evict` goes through the Eviction API, `unschedulable` cordons the node (unschedulable.ts);
 * `pod-start-delay` has no real counterpart and is refused. Only HTTP/1.1 is offered, so clients
 * speak it.
 *
 * @module
 */
import { concat } from "../../src/bytes.ts";
import { Faults, parseFault } from "../cluster/api/faults.ts";
import { resolveRoute } from "../cluster/api/routes.ts";
import { requestKey, RequestStats } from "../cluster/api/stats.ts";
import { ApiError, serverError } from "../cluster/api/status.ts";
import { bodyCutter, type Cutter, webSocketCutter } from "./stream_cut.ts";
import { UnschedulableFault } from "./unschedulable.ts";

/** What the proxy fronts. */
export interface FrontOptions {
  certPem: string;
  keyPem: string;
  /** The API server, as the host reaches it, and the CA that signed it. */
  upstream: { hostname: string; port: number; caPem: string };
  /** The admin token (only it may use /_cluster/*; the proxy uses it for evictions and cordons). */
  adminToken: string;
  /** The node the `unschedulable` fault cordons. */
  nodeName: string;
}

/** A running proxy. */
export interface Front {
  url: string;
  close(): Promise<void>;
}

const HEAD_LIMIT = 64 * 1024;
const CRLF = new TextEncoder().encode("\r\n");
const CRLF2 = new TextEncoder().encode("\r\n\r\n");

interface Head {
  raw: Uint8Array;
  method: string;
  path: string;
  headers: Headers;
}

/** Reads from `reader` until a full HTTP head; returns it and the bytes after it, or undefined
 * when the connection ended before one. */
async function readHead(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  pending: Uint8Array,
): Promise<{ head: Uint8Array; rest: Uint8Array } | undefined> {
  let buffer = pending;
  while (true) {
    const end = indexOf(buffer, CRLF2);
    if (end >= 0) return { head: buffer.subarray(0, end + 4), rest: buffer.subarray(end + 4) };
    if (buffer.length > HEAD_LIMIT) throw new Error("request head too large");
    const { done, value } = await reader.read();
    if (done) return undefined;
    buffer = concat([buffer, value]);
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** Reads a request's body (Content-Length or chunked, passed on as it came); returns it and the
 * bytes after it, or undefined when the connection ended first. */
async function readBody(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  headers: Headers,
  rest: Uint8Array,
): Promise<{ body: Uint8Array; pending: Uint8Array } | undefined> {
  let buffer = rest;
  const more = async () => {
    const { done, value } = await reader.read();
    if (!done) buffer = concat([buffer, value]);
    return !done;
  };
  let end = Number(headers.get("content-length") ?? "0");
  if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) {
    // Chunk after chunk: a size line, the data, CRLF; the last (size 0) ends with trailers and
    // an empty line.
    let at = 0;
    while (true) {
      let line = indexOf(buffer.subarray(at), CRLF);
      while (line < 0) {
        if (!await more()) return undefined;
        line = indexOf(buffer.subarray(at), CRLF);
      }
      const size = parseInt(new TextDecoder().decode(buffer.subarray(at, at + line)), 16);
      if (!(size > 0)) {
        let last = indexOf(buffer.subarray(at), CRLF2);
        while (last < 0) {
          if (!await more()) return undefined;
          last = indexOf(buffer.subarray(at), CRLF2);
        }
        end = at + last + 4;
        break;
      }
      at += line + 2 + size + 2;
      while (buffer.length < at) if (!await more()) return undefined;
    }
  }
  while (buffer.length < end) if (!await more()) return undefined;
  return { body: buffer.subarray(0, end), pending: buffer.subarray(end) };
}

/** The head with `Connection: close` instead of any Connection header. */
function closing(raw: Uint8Array): Uint8Array {
  const text = new TextDecoder().decode(raw).replace(/\r\nconnection:[^\r]*/gi, "");
  return new TextEncoder().encode(text.replace(/\r\n\r\n$/, "\r\nConnection: close\r\n\r\n"));
}

function parseHead(raw: Uint8Array): Head {
  const [line, ...fields] = new TextDecoder().decode(raw).split("\r\n");
  const [method, path] = line.split(" ");
  const headers = new Headers();
  for (const field of fields) {
    const colon = field.indexOf(":");
    if (colon > 0) headers.append(field.slice(0, colon).trim(), field.slice(colon + 1).trim());
  }
  return { raw, method, path, headers };
}

/** An HTTP/1.1 response with a JSON body that closes the connection. */
function jsonResponse(status: number, body: unknown, extraHeaders = ""): Uint8Array {
  const text = JSON.stringify(body);
  return new TextEncoder().encode(
    `HTTP/1.1 ${status} ${status < 400 ? "OK" : "Error"}\r\nContent-Type: application/json\r\n` +
      extraHeaders +
      `Content-Length: ${
        new TextEncoder().encode(text).length
      }\r\nConnection: close\r\n\r\n${text}`,
  );
}

function statusBody(code: number, reason: string, message: string) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    code,
  };
}

/** Starts the proxy on an ephemeral port of 127.0.0.1. */
export function startFront(options: FrontOptions): Front {
  const faults = new Faults();
  const stats = new RequestStats();
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: options.certPem,
    key: options.keyPem,
    alpnProtocols: ["http/1.1"],
  });
  const connections = new Set<Deno.Conn>();
  const api = (method: string, path: string, body?: unknown, contentType = "application/json") =>
    upstreamFetch(options, method, path, body, contentType);
  const unschedulable = new UnschedulableFault(api, options.nodeName, faults);

  const control = async (head: Head, body: Uint8Array): Promise<Uint8Array> => {
    const token = head.headers.get("authorization")?.replace(/^Bearer\s+/i, "");
    if (token !== options.adminToken) {
      return jsonResponse(
        403,
        statusBody(403, "Forbidden", "only the admin context may use /_cluster"),
      );
    }
    const path = head.path.split("?")[0];
    try {
      if (path === "/_cluster/stats") {
        if (head.method === "DELETE") stats.reset();
        return jsonResponse(200, stats.snapshot());
      }
      if (path !== "/_cluster/faults") return jsonResponse(404, statusBody(404, "NotFound", path));
      if (head.method === "GET") return jsonResponse(200, faults.list());
      if (head.method !== "DELETE" && head.method !== "POST") {
        return jsonResponse(
          405,
          statusBody(405, "MethodNotAllowed", "use GET, POST or DELETE on /_cluster/faults"),
        );
      }
      if (head.method === "DELETE") {
        faults.clear();
        await unschedulable.cleared();
        return jsonResponse(200, []);
      }
      const posted = JSON.parse(new TextDecoder().decode(body));
      const parsed = (Array.isArray(posted) ? posted : [posted]).map(parseFault);
      if (parsed.some((fault) => fault.kind === "pod-start-delay")) {
        return jsonResponse(
          400,
          statusBody(
            400,
            "BadRequest",
            "pod-start-delay has no real-Kubernetes counterpart (a real kubelet cannot be told " +
              "to wait); run this test on the embedded cluster",
          ),
        );
      }
      const added = faults.add(posted);
      for (const fault of added) {
        if (fault.kind === "unschedulable") await unschedulable.armed();
        if (fault.kind === "evict") {
          const namespace = fault.namespace ?? "default";
          await api("POST", `/api/v1/namespaces/${namespace}/pods/${fault.pod}/eviction`, {
            apiVersion: "policy/v1",
            kind: "Eviction",
            metadata: { name: fault.pod, namespace },
          });
        }
      }
      return jsonResponse(201, added);
    } catch (error) {
      // The embedded cluster's answers: its Status for a refused fault, the API server's for a
      // failed eviction (404 for a pod that does not exist).
      if (error instanceof ApiError) return jsonResponse(error.status.code ?? 400, error.status);
      return jsonResponse(
        400,
        statusBody(400, "BadRequest", `the fault request failed: ${(error as Error).message}`),
      );
    }
  };

  const serve = async (client: Deno.TlsConn) => {
    connections.add(client);
    let upstream: Deno.TlsConn | undefined;
    const reader = client.readable.getReader();
    const writer = client.writable.getWriter();
    let responses: Promise<void> | undefined;
    try {
      let pending: Uint8Array = new Uint8Array(0);
      while (true) {
        const read = await readHead(reader, pending);
        if (!read) return;
        const head = parseHead(read.head);
        const request = await readBody(reader, head.headers, read.rest);
        if (!request) return;
        const body = request.body;
        pending = request.pending;
        const url = new URL(head.path, "https://front");
        if (url.pathname.startsWith("/_cluster/")) {
          await writer.write(await control(head, body));
          return;
        }
        const route = resolveRoute(url);
        if (head.headers.get("authorization")) stats.countRequest(requestKey(head.method, route));
        const connect = () =>
          Deno.connectTls({
            hostname: options.upstream.hostname,
            port: options.upstream.port,
            caCerts: [options.upstream.caPem],
            alpnProtocols: ["http/1.1"],
          });
        const injected = faults.takeApiError(head.method, url.pathname);
        if (injected !== undefined) {
          if (injected.applied) {
            // Carried out first, on a connection of its own, its answer dropped: the answer is
            // lost, not the work.
            const once = await connect();
            const up = once.writable.getWriter();
            await up.write(concat([closing(head.raw), body]));
            up.releaseLock();
            await once.readable.pipeTo(new WritableStream()).catch(() => {});
          }
          const { status } = serverError(
            injected.status,
            `injected fault: ${head.method} ${url.pathname} failed on purpose`,
          );
          const retry = status.details?.retryAfterSeconds;
          await writer.write(
            jsonResponse(
              injected.status,
              status,
              retry === undefined ? "" : `Retry-After: ${retry}\r\n`,
            ),
          );
          return;
        }
        const streaming = route.kind === "resource" && route.subresource !== undefined &&
          ["exec", "attach", "log"].includes(route.subresource);
        if (!streaming) {
          if (!upstream) {
            const opened = await connect();
            upstream = opened;
            // The server closing its connection closes the client's, as it would have without
            // the front door: the client then knows not to send on it again.
            responses = opened.readable.pipeTo(
              new WritableStream({ write: (chunk) => writer.write(chunk) }),
            ).catch(() => {}).finally(() => {
              if (upstream === opened) closeQuietly(client);
            });
          }
          const up = upstream.writable.getWriter();
          await up.write(concat([head.raw, body]));
          up.releaseLock();
          continue;
        }
        // exec, attach and log streams get a server connection of their own and end the
        // client's: a log response ends when the server closes (asked with Connection: close).
        const upgrade = head.headers.get("upgrade")?.toLowerCase() === "websocket";
        const stream = await connect();
        const up = stream.writable.getWriter();
        await up.write(concat([upgrade ? head.raw : closing(head.raw), body]));
        const previous = upstream;
        upstream = stream;
        if (previous) closeQuietly(previous);
        const upReader = upstream.readable.getReader();
        const response = await readHead(upReader, new Uint8Array(0));
        if (!response) return;
        const answer = parseResponseHead(response.head);
        // A fault is used up by a stream that runs, as on the embedded cluster: not by a refusal.
        let cutter: Cutter | undefined;
        let stall = false;
        if (upgrade && answer.status === 101) {
          stats.countExecSession();
          // Aimed as on the embedded cluster: by the command parameters, joined with spaces.
          const fault = faults.takeExecFault(url.searchParams.getAll("command").join(" "));
          if (fault) cutter = webSocketCutter(fault.afterBytes);
          stall = fault?.kind === "exec-stall";
        } else if (
          route.subresource === "log" && answer.status === 200 &&
          ["true", "1"].includes(url.searchParams.get("follow") ?? "")
        ) {
          const drop = faults.takeLogDrop();
          if (drop !== undefined) cutter = bodyCutter(drop, answer.chunked);
        }
        await writer.write(response.head);
        let discardClient = false;
        const toClient = pump(upReader, response.rest, (chunk) => writer.write(chunk), cutter);
        const toServer = pump(
          reader,
          pending,
          (chunk) => discardClient ? Promise.resolve() : up.write(chunk),
        );
        const first = await Promise.race([toClient, toServer.then(() => "client gone" as const)]);
        if (first === "cut" && stall) {
          // Silence, as the embedded cluster's stall: the session ends at the server (stdin
          // closed), and the client hears nothing more (no pong, no status, no close).
          discardClient = true;
          upstream.close();
          upstream = undefined;
          await toServer;
        }
        return;
      }
    } catch {
      // A broken client or server connection ends this connection; nothing to report.
    } finally {
      connections.delete(client);
      const last = upstream;
      upstream = undefined;
      closeQuietly(client);
      if (last) closeQuietly(last);
      await responses;
    }
  };

  const accepting = (async () => {
    for await (const client of listener) serve(client);
  })().catch(() => {});

  return {
    url: `https://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    close: async () => {
      listener.close();
      for (const connection of connections) closeQuietly(connection);
      await accepting;
      await unschedulable.cleared().catch(() => {});
    },
  };
}

/** Copies bytes from `source` (after `first`) to `write` until the source ends ("ended") or
 * `cutter` reaches its cut point ("cut"). */
async function pump(
  source: ReadableStreamDefaultReader<Uint8Array>,
  first: Uint8Array,
  write: (chunk: Uint8Array) => Promise<void>,
  cutter?: Cutter,
): Promise<"ended" | "cut"> {
  let chunk: Uint8Array | undefined = first;
  while (true) {
    if (chunk && chunk.length > 0) {
      const { pass, cut } = cutter ? cutter.push(chunk) : { pass: chunk, cut: false };
      if (pass.length > 0) await write(pass);
      if (cut) return "cut";
    }
    const { done, value } = await source.read();
    if (done) return "ended";
    chunk = value;
  }
}

/** The status of a response head and whether its body is chunked. */
function parseResponseHead(raw: Uint8Array): { status: number; chunked: boolean } {
  const text = new TextDecoder().decode(raw);
  return {
    status: Number(text.split(" ", 2)[1]),
    chunked: /\r\ntransfer-encoding:[^\r]*chunked/i.test(text),
  };
}

/** Calls the API server as the admin; throws on an error status. */
async function upstreamFetch(
  options: FrontOptions,
  method: string,
  path: string,
  body: unknown,
  contentType: string,
): Promise<unknown> {
  const client = Deno.createHttpClient({ caCerts: [options.upstream.caPem] });
  try {
    const response = await fetch(
      `https://${options.upstream.hostname}:${options.upstream.port}${path}`,
      {
        method,
        client,
        headers: { authorization: `Bearer ${options.adminToken}`, "content-type": contentType },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      },
    );
    const text = await response.text();
    if (!response.ok) {
      const status = (() => {
        try {
          return JSON.parse(text);
        } catch {
          return undefined;
        }
      })();
      if (status?.kind === "Status") throw new ApiError(status);
      throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
    }
    return text ? JSON.parse(text) : undefined;
  } finally {
    client.close();
  }
}
