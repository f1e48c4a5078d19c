/**
 * The front door in front of a stand-in API server (no Kubernetes, no root): requests and their
 * bodies (Content-Length or chunked) reach the server as sent, with the client's own token, on a
 * kept-alive connection; the admin-only fault and stats endpoints answer as the embedded
 * cluster's do; an injected error is the embedded Status, Retry-After included; exec faults are
 * aimed at sessions by their command and a skip count, as on the embedded cluster.
 */
import assert from "node:assert/strict";
import { KubeClient } from "../../src/kube/client.ts";
import { openExec } from "../../src/kube/exec.ts";
import { generateCa, generateCertificate } from "../cluster/api/tls.ts";
import { startFront } from "./front.ts";

const ADMIN = "admin-token";

Deno.test("the front door passes requests through and answers /_cluster", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "kubehook-front-test-" });
  await generateCa(dir, "front-test-ca");
  for (const file of ["upstream", "front"]) {
    await generateCertificate(dir, {
      file,
      subject: `/CN=${file}`,
      sans: ["IP:127.0.0.1"],
      usage: "serverAuth",
    });
  }
  const read = (name: string) => Deno.readTextFile(`${dir}/${name}`);
  const caPem = await read("ca.crt");
  const seen: { method: string; path: string; body: string; token: string | null }[] = [];
  const upstream = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: await read("upstream.crt"),
    key: await read("upstream.key"),
    onListen: () => {},
  }, async (request) => {
    const url = new URL(request.url);
    if (url.pathname.endsWith("/exec")) return execSession(request);
    seen.push({
      method: request.method,
      path: url.pathname + url.search,
      body: await request.text(),
      token: request.headers.get("authorization"),
    });
    return Response.json({ kind: "PodList", items: [] });
  });
  const front = startFront({
    certPem: await read("front.crt"),
    keyPem: await read("front.key"),
    upstream: { hostname: "127.0.0.1", port: upstream.addr.port, caPem },
    adminToken: ADMIN,
    nodeName: "node",
  });
  const client = Deno.createHttpClient({ caCerts: [caPem] });
  const call = (path: string, init: RequestInit = {}, token = ADMIN) =>
    fetch(`${front.url}${path}`, {
      ...init,
      client,
      headers: { authorization: `Bearer ${token}`, ...init.headers as Record<string, string> },
    });
  try {
    await t.step("bodies and tokens reach the server as sent", async () => {
      const chunked = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const part of ['{"a":', "1}"]) controller.enqueue(new TextEncoder().encode(part));
          controller.close();
        },
      });
      for (
        const body of [JSON.stringify({ b: 2 }), chunked]
      ) {
        const response = await call("/api/v1/namespaces/default/pods", { method: "POST", body });
        assert.equal(response.status, 200, await response.text());
      }
      await (await call("/api/v1/namespaces/default/pods?limit=5", {}, "runner-token")).text();
      assert.deepEqual(seen.map((s) => [s.method, s.path, s.body, s.token]), [
        ["POST", "/api/v1/namespaces/default/pods", '{"b":2}', `Bearer ${ADMIN}`],
        ["POST", "/api/v1/namespaces/default/pods", '{"a":1}', `Bearer ${ADMIN}`],
        ["GET", "/api/v1/namespaces/default/pods?limit=5", "", "Bearer runner-token"],
      ]);
    });

    await t.step("faults: admin only, parsed as the embedded cluster parses them", async () => {
      const refused = await call("/_cluster/faults", {}, "runner-token");
      assert.equal(refused.status, 403, await refused.text());
      const bad = await call("/_cluster/faults", {
        method: "POST",
        body: JSON.stringify({ kind: "no-such-fault" }),
      });
      assert.equal(bad.status, 400);
      assert.match((await bad.json()).message, /unknown fault kind "no-such-fault"/);
      const added = await call("/_cluster/faults", {
        method: "POST",
        body: JSON.stringify([
          { kind: "api-error", status: 429, path: "/pods$" },
          { kind: "exec-drop", afterBytes: 7 },
        ]),
      });
      assert.equal(added.status, 201, await added.text());
      const tooMany = await call("/api/v1/namespaces/default/pods");
      assert.equal(tooMany.status, 429);
      assert.equal(tooMany.headers.get("retry-after"), "1");
      assert.equal((await tooMany.json()).reason, "TooManyRequests");
      const left = await (await call("/_cluster/faults")).json();
      assert.deepEqual(left, [{ kind: "exec-drop", afterBytes: 7, count: 1 }]);
    });

    await t.step(
      "exec faults aimed by command and skip cut only the sessions aimed at",
      async () => {
        await call("/_cluster/faults", { method: "DELETE" }).then((r) => r.text());
        const added = await call("/_cluster/faults", {
          method: "POST",
          body: JSON.stringify({ kind: "exec-drop", afterBytes: 5, command: "pack_exit", skip: 1 }),
        });
        assert.equal(added.status, 201, await added.text());
        const exec = new KubeClient({
          server: front.url,
          namespace: "default",
          token: ADMIN,
          caPem,
          source: "front_test",
        });
        const run = async (command: string[]) => {
          const session = await openExec(exec, {
            namespace: "default",
            pod: "p",
            command,
            stdin: false,
          });
          const [result, stdout] = await Promise.all([
            session.result,
            new Response(session.stdout).text(),
            session.stderr.cancel(),
          ]);
          return { result: result.kind, stdout };
        };
        try {
          const whole = { result: "exited", stdout: SESSION_OUTPUT };
          assert.deepEqual(await run(["sh", "-c", "echo kubehook-started"]), whole, "not aimed at");
          assert.deepEqual(await run(["sh", "-c", "echo pack_exit"]), whole, "skipped");
          assert.deepEqual(
            await (await call("/_cluster/faults")).json(),
            [{ kind: "exec-drop", afterBytes: 5, command: "pack_exit", skip: 0, count: 1 }],
          );
          assert.deepEqual(
            await run(["sh", "-c", "echo", "pack_exit"]),
            { result: "lost", stdout: SESSION_OUTPUT.slice(0, 5) },
            "aimed at: cut after 5 bytes",
          );
          assert.deepEqual(await (await call("/_cluster/faults")).json(), []);
          assert.deepEqual(await run(["sh", "-c", "echo pack_exit"]), whole, "the fault is spent");
        } finally {
          exec.close();
        }
      },
    );

    await t.step("stats count requests by the authorizer's verb and resource", async () => {
      const stats = await (await call("/_cluster/stats")).json();
      assert.deepEqual(stats, {
        total: 8,
        requests: { "create pods": 2, "list pods": 2, "get pods/exec": 4 },
        execSessions: 4,
      });
      const reset = await (await call("/_cluster/stats", { method: "DELETE" })).json();
      assert.equal(reset.total, 0);
    });
  } finally {
    client.close();
    await front.close();
    await upstream.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

/** What the stand-in's exec sessions print on stdout, in three messages. */
const SESSION_OUTPUT = "0123456789abcdefghij";

/** The stand-in API server's exec: the channel protocol's open frame, {@link SESSION_OUTPUT} on
 * stdout, a Success status, a normal close. */
function execSession(request: Request): Response {
  const { socket, response } = Deno.upgradeWebSocket(request, { protocol: "v5.channel.k8s.io" });
  const frame = (channel: number, text = "") =>
    Uint8Array.of(channel, ...new TextEncoder().encode(text));
  socket.onopen = () => {
    socket.send(frame(1));
    for (const part of ["0123", "456789abcd", "efghij"]) socket.send(frame(1, part));
    socket.send(frame(3, JSON.stringify({ status: "Success" })));
    socket.close(1000);
  };
  return response;
}
