/**
 * Test support for the API server's own tests: an API server with the stand-in host runtime,
 * and clients that speak to it as admin, runner, builder or restricted — JSON REST, Deno's
 * WebSocket for exec, and a bare WebSocket client that shows exactly what the wire carries.
 *
 * @module
 */
import type { Identity } from "./authz.ts";
import { createHostRuntime } from "./host_runtime_for_tests.ts";
import { type ApiServer, startApiServer } from "./mod.ts";
import { type Frame, FrameDecoder } from "./websocket.ts";

/** A request: `as` picks the identity (admin by default), `body` is sent as JSON. */
export type CallInit = Omit<RequestInit, "body"> & { as?: Identity; body?: unknown };

/** What an exec through Deno's WebSocket saw. */
export interface ExecResult {
  frames: Uint8Array[];
  closeCode: number;
  protocol: string;
}

/** What a bare client saw: the response head, the body of a refused upgrade, every frame. */
export interface RawExecResult {
  head: string;
  body: string;
  frames: Frame[];
}

/** A running test API server with its clients. */
export interface TestApi extends AsyncDisposable {
  server: ApiServer;
  stateDir: string;
  call(path: string, init?: CallInit): Promise<Response>;
  /** A call whose answer is read as JSON (loosely typed: tests pick fields out of it). */
  // deno-lint-ignore no-explicit-any
  json(path: string, init?: CallInit): Promise<{ status: number; headers: Headers; body: any }>;
  /** An exec through Deno's WebSocket; `send` runs once it is open. */
  exec(path: string, protocols?: string[], send?: (ws: WebSocket) => void): Promise<ExecResult>;
  /** A bare WebSocket exec; with `hangUpAfter`, once that many output bytes arrived it sends a
   * ping and ends its side of the connection. */
  rawExec(path: string, as?: Identity, hangUpAfter?: number): Promise<RawExecResult>;
}

/** A pod manifest for the stand-in runtime (its command runs on the host). */
export const testPod = (name: string, command = ["sleep", "300"]) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, labels: { app: "test", pod: name } },
  spec: { containers: [{ name: "main", image: "busybox", command }] },
});

/** The bytes of one channel, as text, across channel frames. */
export const channelText = (frames: Uint8Array[], channel: number) =>
  new TextDecoder().decode(
    new Uint8Array(frames.filter((f) => f[0] === channel).flatMap((f) => [...f.subarray(1)])),
  );

/** Starts an API server with the stand-in runtime in a new temporary state dir. */
export async function startTestApi(): Promise<TestApi> {
  const stateDir = await Deno.makeTempDir({ prefix: "kubehook-api-test-" });
  const server = await startApiServer({
    stateDir,
    createRuntime: createHostRuntime,
    watchHistory: 50,
  });
  const client = Deno.createHttpClient({ caCerts: [server.caPem] });

  const call = (path: string, init: CallInit = {}) => {
    const { as = "admin", body, ...rest } = init;
    return fetch(`${server.url}${path}`, {
      ...rest,
      client,
      headers: {
        authorization: `Bearer ${server.users[as].token}`,
        "content-type": "application/json",
        ...rest.headers as Record<string, string>,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  };

  const exec = (
    path: string,
    protocols = ["v5.channel.k8s.io"],
    send: (ws: WebSocket) => void = () => {},
  ): Promise<ExecResult> => {
    const ws = new WebSocket(`${server.url.replace("https", "wss")}${path}`, {
      protocols,
      headers: { authorization: `Bearer ${server.users.admin.token}` },
      client,
    } as unknown as string[]);
    ws.binaryType = "arraybuffer";
    const frames: Uint8Array[] = [];
    return new Promise((resolve) => {
      ws.onopen = () => send(ws);
      ws.onmessage = (e) => frames.push(new Uint8Array(e.data as ArrayBuffer));
      ws.onclose = (e) => resolve({ frames, closeCode: e.code, protocol: ws.protocol });
    });
  };

  const rawExec = async (path: string, as: Identity = "admin", hangUpAfter?: number) => {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: server.port,
      caCerts: [server.caPem],
    });
    const request = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
      "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n" +
      `Authorization: Bearer ${server.users[as].token}\r\n\r\n`;
    await conn.write(new TextEncoder().encode(request));
    let received = new Uint8Array(0);
    let head: string | undefined;
    const frames: Frame[] = [];
    const decoder = new FrameDecoder();
    const buffer = new Uint8Array(65536);
    for (let n; (n = await conn.read(buffer).catch(() => null)) !== null;) {
      let chunk = buffer.slice(0, n);
      if (head === undefined) {
        received = new Uint8Array([...received, ...chunk]);
        const end = new TextDecoder().decode(received).indexOf("\r\n\r\n");
        if (end < 0) continue;
        head = new TextDecoder().decode(received.subarray(0, end + 4));
        chunk = received.subarray(end + 4);
        if (!head.startsWith("HTTP/1.1 101")) continue;
      }
      if (!head.startsWith("HTTP/1.1 101")) {
        received = new Uint8Array([...received, ...chunk]);
        continue;
      }
      frames.push(...decoder.push(chunk));
      const output = frames.reduce((sum, f) => sum + Math.max(0, f.payload.length - 1), 0);
      if (hangUpAfter !== undefined && output >= hangUpAfter) {
        hangUpAfter = undefined;
        await conn.write(new Uint8Array([0x89, 0x80, 0, 0, 0, 0])); // masked, empty ping
        await conn.closeWrite();
      }
    }
    conn.close();
    const body = head?.startsWith("HTTP/1.1 101") ? "" : new TextDecoder().decode(
      received.subarray(new TextDecoder().decode(received).indexOf("\r\n\r\n") + 4),
    );
    return { head: head ?? "", body, frames };
  };

  const close = async () => {
    client.close();
    await server.close();
    await Deno.remove(stateDir, { recursive: true });
  };
  return {
    server,
    stateDir,
    call,
    json: async (path, init) => {
      const response = await call(path, init);
      return { status: response.status, headers: response.headers, body: await response.json() };
    },
    exec,
    rawExec,
    [Symbol.asyncDispose]: close,
  };
}
