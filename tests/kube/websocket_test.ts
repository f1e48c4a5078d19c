/**
 * kubehook's WebSocket client against a scripted server on a loopback TCP port: the handshake
 * and its refusals, message reassembly, ping/pong, both close handshakes, the idle timeout and
 * broken connections. Exec over TLS is covered by exec_test.ts against the local cluster.
 */
import assert from "node:assert/strict";
import type { KubeAccess } from "../../src/kube/config.ts";
import { KubeApiError } from "../../src/kube/errors.ts";
import { connectWebSocket, type WebSocketOptions } from "../../src/kube/websocket.ts";
import {
  acceptKey,
  closePayload,
  encodeFrame,
  type Frame,
  FrameDecoder,
  Opcode,
  parseClosePayload,
} from "../../src/kube/websocket_frames.ts";

const encoder = new TextEncoder();
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** The server's side of one connection. */
interface Peer {
  conn: Deno.Conn;
  /** The request head, lower-cased header names. */
  request: { line: string; headers: Headers };
  write(bytes: Uint8Array | string): Promise<void>;
  /** The client's next frame; null at the end of the connection. */
  frame(): Promise<Frame | null>;
  /** Answers the upgrade with 101 (`protocol` chosen, `accept` override for a broken server). */
  accept(protocol?: string, accept?: string): Promise<void>;
}

/** Runs `script` as the server of one connection while `client` talks to it. */
async function scripted(
  script: (peer: Peer) => Promise<void>,
  client: (
    connect: (options?: WebSocketOptions) => ReturnType<typeof connectWebSocket>,
  ) => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const access: KubeAccess = {
    server: `http://127.0.0.1:${listener.addr.port}`,
    namespace: "ci",
    source: "the test",
  };
  const url = new URL(`${access.server}/api/v1/namespaces/ci/pods/p/exec?command=true`);
  const served = (async () => {
    const conn = await listener.accept();
    try {
      await script(await peerOf(conn));
    } finally {
      try {
        conn.close();
      } catch {
        // The client closed it first.
      }
    }
  })();
  try {
    await client((options) =>
      connectWebSocket(access, url, {
        protocols: ["a", "b"],
        headers: { Authorization: "Bearer t0ken" },
        ...options,
      })
    );
  } finally {
    listener.close();
    await served;
  }
}

async function peerOf(conn: Deno.Conn): Promise<Peer> {
  let buffered = new Uint8Array(0);
  const chunk = new Uint8Array(64 * 1024);
  let end = -1;
  while (end < 0) {
    const n = await conn.read(chunk);
    if (n === null) throw new Error("the client sent no request");
    buffered = new Uint8Array([...buffered, ...chunk.subarray(0, n)]);
    end = text(buffered).indexOf("\r\n\r\n");
  }
  const [line, ...lines] = text(buffered).slice(0, end).split("\r\n");
  const headers = new Headers(
    lines.map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]),
  );
  const decoder = new FrameDecoder();
  let frames = decoder.push(buffered.subarray(end + 4));
  const write = async (bytes: Uint8Array | string) => {
    const data = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
    for (let i = 0; i < data.length;) i += await conn.write(data.subarray(i));
  };
  return {
    conn,
    request: { line, headers },
    write,
    async frame() {
      while (!frames.length) {
        const n = await conn.read(chunk).catch(() => null);
        if (n === null) return null;
        frames = decoder.push(chunk.subarray(0, n));
      }
      return frames.shift()!;
    },
    async accept(protocol = "b", accept?: string) {
      accept ??= await acceptKey(headers.get("sec-websocket-key")!);
      await write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`,
      );
    },
  };
}

const data = (n: number) => Uint8Array.from({ length: n }, (_, i) => i & 0xff);

Deno.test("websocket: the upgrade request, fragmented messages, ping/pong, the server's close", async () => {
  const seen: Frame[] = [];
  await scripted(async (peer) => {
    assert.equal(peer.request.line, "GET /api/v1/namespaces/ci/pods/p/exec?command=true HTTP/1.1");
    const h = peer.request.headers;
    assert.equal(h.get("upgrade"), "websocket");
    assert.equal(h.get("connection"), "Upgrade");
    assert.equal(h.get("sec-websocket-version"), "13");
    assert.equal(h.get("sec-websocket-protocol"), "a, b");
    assert.equal(h.get("authorization"), "Bearer t0ken");
    assert.equal(atob(h.get("sec-websocket-key")!).length, 16);
    await peer.accept("b");
    await peer.write(
      new Uint8Array([
        ...encodeFrame(Opcode.binary, data(100), { fin: false }),
        ...encodeFrame(Opcode.ping, encoder.encode("are you there")),
        ...encodeFrame(Opcode.continuation, data(30), { fin: false }),
        ...encodeFrame(Opcode.continuation, data(1)),
        ...encodeFrame(Opcode.binary, data(70000)),
      ]),
    );
    for (let frame = await peer.frame(); frame; frame = await peer.frame()) {
      seen.push(frame);
      if (frame.opcode === Opcode.binary) {
        await peer.write(encodeFrame(Opcode.close, closePayload(4000, "done")));
      }
    }
  }, async (connect) => {
    const ws = await connect();
    assert.equal(ws.protocol, "b");
    const reader = ws.messages.getReader();
    const messages = [(await reader.read()).value, (await reader.read()).value];
    assert.deepEqual(messages, [
      new Uint8Array([...data(100), ...data(30), ...data(1)]),
      data(70000),
    ]);
    await ws.send(encoder.encode("hi"));
    assert.deepEqual(await reader.read(), { done: true, value: undefined });
    assert.deepEqual(ws.closeInfo, { code: 4000, reason: "done" });
  });
  assert.deepEqual(seen.map((f) => [f.opcode, text(f.payload)]), [
    [Opcode.pong, "are you there"],
    [Opcode.binary, "hi"],
    [Opcode.close, text(closePayload(4000))],
  ]);
});

Deno.test("websocket: close() sends a close frame and waits for the server's", async () => {
  let got: { code: number; reason: string } | undefined;
  await scripted(async (peer) => {
    await peer.accept();
    await peer.write(encodeFrame(Opcode.binary, data(10)));
    const frame = await peer.frame();
    got = parseClosePayload(frame!.payload);
    await peer.write(encodeFrame(Opcode.close, frame!.payload));
    assert.equal(await peer.frame(), null);
  }, async (connect) => {
    const ws = await connect();
    await ws.close(1000, "finished");
    assert.deepEqual(ws.closeInfo, { code: 1000, reason: "finished" });
    await assert.rejects(ws.send(data(1)), /closed/);
    assert.deepEqual(await Array.fromAsync(ws.messages), []);
  });
  assert.deepEqual(got, { code: 1000, reason: "finished" });
});

Deno.test("websocket: a refused upgrade throws the real status and Status message", async () => {
  const status = JSON.stringify({
    kind: "Status",
    status: "Failure",
    reason: "NotFound",
    code: 404,
    message: 'pods "p" not found',
  });
  await scripted(async (peer) => {
    // Chunked, as a Go server sends a body it did not size.
    await peer.write(
      "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n" +
        "Transfer-Encoding: chunked\r\n\r\n" +
        `5\r\n${status.slice(0, 5)}\r\n${(status.length - 5).toString(16)}\r\n${
          status.slice(5)
        }\r\n0\r\n\r\n`,
    );
    await peer.frame();
  }, async (connect) => {
    await assert.rejects(connect(), (err: KubeApiError) => {
      assert.ok(err instanceof KubeApiError);
      assert.equal(err.status, 404);
      assert.equal(err.reason, "NotFound");
      assert.match(
        err.message,
        /exec into pod "p" in namespace "ci": 404 NotFound: pods "p" not found/,
      );
      return true;
    });
  });
  await scripted(async (peer) => {
    await peer.write("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy");
  }, async (connect) => {
    await assert.rejects(
      connect(),
      (err: KubeApiError) => err.status === 503 && err.serverMessage === "busy",
    );
  });
});

Deno.test("websocket: a wrong accept key or an unoffered subprotocol is refused", async () => {
  await scripted((peer) => peer.accept("b", "bm90IHRoZSBrZXk="), async (connect) => {
    await assert.rejects(connect(), /wrong Sec-WebSocket-Accept/);
  });
  await scripted((peer) => peer.accept("c"), async (connect) => {
    await assert.rejects(connect(), /offered a, b, got "c"/);
  });
});

Deno.test("websocket: silence while reading, a cut connection and abort() fail the reads", async () => {
  await scripted(async (peer) => {
    await peer.accept();
    await peer.frame();
  }, async (connect) => {
    const ws = await connect({ idleTimeoutMs: 50 });
    await assert.rejects(ws.messages.getReader().read(), /^Error: no frame arrived for 50 ms$/);
  });
  await scripted(async (peer) => {
    await peer.accept();
    await peer.write(encodeFrame(Opcode.binary, data(3)));
  }, async (connect) => {
    const reader = (await connect()).messages.getReader();
    assert.deepEqual((await reader.read()).value, data(3));
    await assert.rejects(reader.read(), /the connection ended without a WebSocket close frame/);
  });
  await scripted(async (peer) => {
    await peer.accept();
    await peer.frame();
  }, async (connect) => {
    const ws = await connect();
    const read = ws.messages.getReader().read();
    ws.abort("stopped by the test");
    await assert.rejects(read, /stopped by the test/);
    await assert.rejects(ws.send(data(1)), /stopped by the test/);
  });
});

Deno.test("websocket: an unreachable server is a connection error", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const access = { server: `http://127.0.0.1:${port}`, namespace: "ci", source: "the test" };
  await assert.rejects(
    connectWebSocket(access, new URL(`${access.server}/api/v1/namespaces/ci/pods/p/exec`)),
    (err: Error) =>
      err.name === "KubeConnectionError" && /Nothing accepts connections/.test(err.message),
  );
});

Deno.test("websocket: a server that accepts and never answers cannot hold the hook", async (t) => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  const access = {
    server: `http://127.0.0.1:${listener.addr.port}`,
    namespace: "ci",
    source: "the test",
  };
  const url = (scheme: string) =>
    new URL(`${scheme}://127.0.0.1:${listener.addr.port}/api/v1/namespaces/ci/pods/p/exec`);
  try {
    for (
      const [scheme, what] of [["http", "no answer to the upgrade"], [
        "https",
        "no TLS handshake",
      ]]
    ) {
      await t.step(`${what}: a connection error after the deadline`, async () => {
        await assert.rejects(
          connectWebSocket(access, url(scheme), { handshakeTimeoutMs: 300 }),
          (err: Error) =>
            err.name === "KubeConnectionError" &&
            err.message.includes(
              "the TLS handshake and WebSocket upgrade did not finish within 0.3 s",
            ),
        );
      });
    }
    await t.step("the caller's cancel ends the wait with the cancel's reason", async () => {
      const cancel = new AbortController();
      const reason = new Error("the job was cancelled");
      const connecting = connectWebSocket(access, url("http"), { signal: cancel.signal });
      setTimeout(() => cancel.abort(reason), 100);
      await assert.rejects(connecting, (err) => err === reason);
    });
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
  }
});
