/**
 * The API server half on its own, over real HTTPS and WebSockets, with a stand-in kubelet that
 * runs containers as host processes: REST semantics, watch, authorization, exec framing and
 * faults. The kubectl proof tests (kubectl_test.ts) cover the whole cluster.
 */
import assert from "node:assert/strict";
import { channelFrame } from "./api/channels.ts";
import { type Frame, FrameDecoder, Opcode } from "./api/websocket.ts";
import { createHostRuntime } from "./api/host_runtime_for_tests.ts";
import { type ApiServer, startApiServer } from "./api/mod.ts";
import type { Identity } from "./api/authz.ts";

let stateDir: string;
let server: ApiServer;
let client: Deno.HttpClient;

type CallInit = Omit<RequestInit, "body"> & { as?: Identity; body?: unknown };

function call(path: string, init: CallInit = {}) {
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
}

async function callJson(path: string, init: CallInit = {}) {
  const response = await call(path, init);
  return { status: response.status, headers: response.headers, body: await response.json() };
}

const pod = (name: string, command = ["sleep", "300"], extra: Record<string, unknown> = {}) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, labels: { app: "test", pod: name } },
  spec: { containers: [{ name: "main", image: "busybox", command }] },
  ...extra,
});

interface ExecResult {
  frames: Uint8Array[];
  closeCode: number;
  protocol: string;
}

function execSocket(path: string, protocols: string[], as: Identity = "admin") {
  return new WebSocket(`${server.url.replace("https", "wss")}${path}`, {
    protocols,
    headers: { authorization: `Bearer ${server.users[as].token}` },
    client,
  } as unknown as string[]);
}

function runExec(
  path: string,
  protocols = ["v5.channel.k8s.io"],
  send: (ws: WebSocket) => void = () => {},
): Promise<ExecResult> {
  const ws = execSocket(path, protocols);
  ws.binaryType = "arraybuffer";
  const frames: Uint8Array[] = [];
  return new Promise((resolve, reject) => {
    ws.onopen = () => send(ws);
    ws.onmessage = (e) => frames.push(new Uint8Array(e.data as ArrayBuffer));
    ws.onerror = () => {};
    ws.onclose = (e) => resolve({ frames, closeCode: e.code, protocol: ws.protocol });
    setTimeout(() => reject(new Error("exec did not finish")), 20_000);
  });
}

/** A bare WebSocket client that shows what the wire carries: the response head, then every
 * frame (close frames included) until the server ends the TCP connection. With `hangUpAfter`,
 * once that many output bytes arrived it sends a ping and ends its side of the connection. */
async function rawExec(path: string, as: Identity = "admin", hangUpAfter?: number) {
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
}

const text = (frames: Uint8Array[], channel: number) =>
  new TextDecoder().decode(
    new Uint8Array(frames.filter((f) => f[0] === channel).flatMap((f) => [...f.subarray(1)])),
  );

Deno.test("api server", async (t) => {
  stateDir = await Deno.makeTempDir({ prefix: "kubehook-api-test-" });
  server = await startApiServer({ stateDir, createRuntime: createHostRuntime, watchHistory: 50 });
  client = Deno.createHttpClient({ caCerts: [server.caPem] });
  try {
    await t.step("health, version and discovery; anonymous requests are 401", async () => {
      assert.equal(await (await fetch(`${server.url}/healthz`, { client })).text(), "ok");
      assert.equal((await callJson("/version")).body.minor, "32");
      const list = await callJson("/api/v1");
      assert.ok(list.body.resources.some((r: { name: string }) => r.name === "pods/exec"));
      const anonymous = await fetch(`${server.url}/api/v1/namespaces/default/pods`, { client });
      assert.equal(anonymous.status, 401);
      assert.equal((await anonymous.json()).reason, "Unauthorized");
    });

    await t.step("create fills defaults; get, list by label, 409 and 404 Status", async () => {
      const created = await callJson("/api/v1/namespaces/default/pods", {
        method: "POST",
        body: pod("alpha"),
      });
      assert.equal(created.status, 201);
      const p = created.body;
      assert.ok(p.metadata.uid && p.metadata.resourceVersion && p.metadata.creationTimestamp);
      assert.equal(p.spec.restartPolicy, "Always");
      assert.equal(p.spec.terminationGracePeriodSeconds, 30);
      assert.equal(p.spec.dnsPolicy, "ClusterFirst");
      assert.equal(p.spec.containers[0].imagePullPolicy, "Always");
      const again = await callJson("/api/v1/namespaces/default/pods", {
        method: "POST",
        body: pod("alpha"),
      });
      assert.equal(again.status, 409);
      assert.equal(again.body.reason, "AlreadyExists");
      assert.equal(again.body.message, 'pods "alpha" already exists');
      const generated = await callJson("/api/v1/namespaces/default/pods", {
        method: "POST",
        body: { ...pod(""), metadata: { generateName: "gen-" } },
      });
      assert.match(generated.body.metadata.name, /^gen-[a-z0-9]{5}$/);
      const list = await callJson("/api/v1/namespaces/default/pods?labelSelector=pod%3Dalpha");
      assert.equal(list.body.kind, "PodList");
      assert.deepEqual(
        list.body.items.map((i: { metadata: { name: string } }) => i.metadata.name),
        ["alpha"],
      );
      const missing = await callJson("/api/v1/namespaces/default/pods/nope");
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.body, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: 'pods "nope" not found',
        reason: "NotFound",
        details: { name: "nope", kind: "pods" },
        code: 404,
      });
    });

    await t.step("validation answers 422 naming each field", async () => {
      const bad = await callJson("/api/v1/namespaces/default/pods", {
        method: "POST",
        body: {
          metadata: { name: "Bad_Name" },
          spec: {
            containers: [
              { name: "a", image: "busybox", env: [{ name: "1X", value: "" }] },
              { name: "a", image: "" },
            ],
          },
        },
      });
      assert.equal(bad.status, 422);
      assert.equal(bad.body.reason, "Invalid");
      const fields = bad.body.details.causes.map((c: { field: string }) => c.field);
      assert.deepEqual(fields, [
        "metadata.name",
        "spec.containers[0].env[0].name",
        "spec.containers[1].image",
        "spec.containers[1].name",
      ]);
      assert.match(bad.body.message, /^Pod "Bad_Name" is invalid: \[metadata.name: Invalid value/);
    });

    await t.step("watch resumes from a resourceVersion and says 410 when too old", async () => {
      const start =
        (await callJson("/api/v1/namespaces/default/pods")).body.metadata.resourceVersion;
      await call("/api/v1/namespaces/default/pods/alpha", {
        method: "PATCH",
        headers: { "content-type": "application/merge-patch+json" },
        body: { metadata: { labels: { patched: "yes" } } },
      }).then((r) => r.body?.cancel());
      const watch = await call(
        `/api/v1/namespaces/default/pods?watch=1&resourceVersion=${start}&fieldSelector=metadata.name%3Dalpha`,
      );
      const reader = watch.body!.pipeThrough(new TextDecoderStream()).getReader();
      const { value } = await reader.read();
      const event = JSON.parse(value!.split("\n")[0]);
      assert.equal(event.type, "MODIFIED");
      assert.equal(event.object.metadata.labels.patched, "yes");
      await reader.cancel();
      for (let i = 0; i < 60; i++) {
        await call("/api/v1/namespaces/default/secrets", {
          method: "POST",
          body: { metadata: { name: `s${i}` }, stringData: { k: "v" } },
        }).then((r) => r.body?.cancel());
      }
      const old = await call(`/api/v1/namespaces/default/pods?watch=true&resourceVersion=${start}`);
      const lines = (await old.text()).trim().split("\n").map((l) => JSON.parse(l));
      assert.equal(lines.length, 1);
      assert.equal(lines[0].type, "ERROR");
      assert.equal(lines[0].object.code, 410);
      assert.equal(lines[0].object.reason, "Expired");
    });

    await t.step("authorization: runner and restricted get real 403 Status messages", async () => {
      const denied = await callJson("/api/v1/namespaces", { as: "runner" });
      assert.equal(denied.status, 403);
      assert.equal(
        denied.body.message,
        'namespaces is forbidden: User "system:serviceaccount:default:runner" cannot list ' +
          'resource "namespaces" in API group "" at the cluster scope',
      );
      const allowed = await callJson("/api/v1/namespaces/default/pods", { as: "restricted" });
      assert.equal(allowed.status, 200);
      const faults = await callJson("/_cluster/faults", { as: "runner" });
      assert.equal(faults.status, 403);
      const review = await callJson("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
        as: "restricted",
        method: "POST",
        body: {
          spec: {
            resourceAttributes: {
              namespace: "default",
              verb: "create",
              resource: "pods",
              subresource: "exec",
            },
          },
        },
      });
      assert.equal(review.status, 201);
      assert.equal(review.body.status.allowed, false);
    });

    const execPath = (args: string) => `/api/v1/namespaces/default/pods/alpha/exec?${args}`;

    await t.step("exec v5: empty first frame, output, one status frame, close 1000", async () => {
      const result = await runExec(
        execPath(
          "command=sh&command=-c&command=echo%20out%3B%20echo%20err%20%3E%262%3B%20exit%203&stdout=true&stderr=1",
        ),
        ["v4.channel.k8s.io", "v5.channel.k8s.io"],
      );
      assert.equal(result.protocol, "v5.channel.k8s.io");
      assert.deepEqual([...result.frames[0]], [1]);
      assert.equal(text(result.frames, 1), "out\n");
      assert.equal(text(result.frames, 2), "err\n");
      const statuses = result.frames.filter((f) => f[0] === 3);
      assert.equal(statuses.length, 1);
      const status = JSON.parse(text(statuses, 3));
      assert.equal(status.reason, "NonZeroExitCode");
      assert.deepEqual(status.details.causes, [{ reason: "ExitCode", message: "3" }]);
      assert.equal(result.frames.at(-1)![0], 3);
      assert.equal(result.closeCode, 1000);
    });

    await t.step("exec v5: stdin then close-stdin on channel 255", async () => {
      const result = await runExec(
        execPath("command=cat&stdin=true&stdout=true&stderr=true"),
        ["v5.channel.k8s.io"],
        (ws) => {
          ws.send(channelFrame(0, new TextEncoder().encode("hello")));
          ws.send(new Uint8Array([255, 0]));
        },
      );
      assert.equal(text(result.frames, 1), "hello");
      assert.deepEqual(JSON.parse(text(result.frames, 3)), { metadata: {}, status: "Success" });
    });

    await t.step("exec v4 (client-node's offer without spaces) is echoed", async () => {
      const result = await runExec(execPath("command=true&stdout=1"), [
        "v4.channel.k8s.io",
        "v3.channel.k8s.io",
        "channel.k8s.io",
      ]);
      assert.equal(result.protocol, "v4.channel.k8s.io");
      assert.equal(result.closeCode, 1000);
    });

    await t.step("websocket exec needs get and create on pods/exec", async () => {
      const denied = await rawExec(execPath("command=true&stdout=1"), "restricted");
      assert.match(denied.head, /^HTTP\/1.1 403/);
      assert.equal(
        JSON.parse(denied.body).message,
        'pods "alpha" is forbidden: User "system:serviceaccount:default:restricted" cannot get ' +
          'resource "pods/exec" in API group "" in the namespace "default"',
      );
      const allowed = await rawExec(execPath("command=true&stdout=1"), "runner");
      assert.match(allowed.head, /^HTTP\/1.1 101/);
      assert.match(allowed.head, /Sec-WebSocket-Protocol: v5.channel.k8s.io/);
    });

    await t.step("exec-drop cuts the connection with no close frame after N bytes", async () => {
      await callJson("/_cluster/faults", {
        method: "POST",
        body: { kind: "exec-drop", afterBytes: 5, count: 1 },
      });
      const marker = `${stateDir}/still-running`;
      const script = `echo 0123456789; sleep 1; touch ${marker}`;
      const result = await rawExec(
        execPath(`command=sh&command=-c&command=${encodeURIComponent(script)}&stdout=true`),
      );
      const payloads = result.frames.map((f) => f.payload);
      assert.ok(result.frames.every((f) => f.opcode === Opcode.binary), "no close frame");
      assert.equal(text(payloads, 1), "01234");
      assert.equal(payloads.filter((f) => f[0] === 3).length, 0, "no status");
      assert.deepEqual((await callJson("/_cluster/faults")).body, []);
      for (let i = 0; i < 100 && !(await Deno.stat(marker).catch(() => null)); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(await Deno.stat(marker), "the process ran on after the cut");
    });

    await t.step("exec-stall goes silent after N bytes: no pong, no status, no close", async () => {
      await callJson("/_cluster/faults", {
        method: "POST",
        body: { kind: "exec-stall", afterBytes: 4 },
      });
      const script = "echo 0123456789; sleep 0.2; echo more";
      const result = await rawExec(
        execPath(`command=sh&command=-c&command=${encodeURIComponent(script)}&stdout=true`),
        "admin",
        4,
      );
      assert.deepEqual(result.frames.map((f) => f.opcode), [Opcode.binary, Opcode.binary]);
      assert.equal(text(result.frames.map((f) => f.payload), 1), "0123");
    });

    await t.step("api-error faults answer 429 with Retry-After, then clear", async () => {
      await callJson("/_cluster/faults", {
        method: "POST",
        body: [{ kind: "api-error", status: 429, count: 1, method: "GET", path: "/pods$" }],
      });
      const limited = await callJson("/api/v1/namespaces/default/pods");
      assert.equal(limited.status, 429);
      assert.equal(limited.headers.get("retry-after"), "1");
      assert.equal(limited.body.reason, "TooManyRequests");
      assert.equal((await callJson("/api/v1/namespaces/default/pods")).status, 200);
    });

    await t.step("unschedulable pods stay Pending with a FailedScheduling event", async () => {
      await callJson("/_cluster/faults", { method: "POST", body: { kind: "unschedulable" } });
      await callJson("/api/v1/namespaces/default/pods", { method: "POST", body: pod("stuck") });
      const stuck = (await callJson("/api/v1/namespaces/default/pods/stuck")).body;
      assert.equal(stuck.status.phase, "Pending");
      assert.deepEqual(
        stuck.status.conditions.map((
          c: { type: string; status: string; reason: string },
        ) => [c.type, c.status, c.reason]),
        [["PodScheduled", "False", "Unschedulable"]],
      );
      const events = await callJson(
        "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dstuck",
      );
      assert.deepEqual(events.body.items.map((e: { reason: string }) => e.reason), [
        "FailedScheduling",
      ]);
    });

    await t.step("evict faults mark the pod Failed with reason Evicted", async () => {
      await callJson("/api/v1/namespaces/default/pods", { method: "POST", body: pod("victim") });
      const added = await callJson("/_cluster/faults", {
        method: "POST",
        body: { kind: "evict", pod: "victim" },
      });
      assert.equal(added.status, 201);
      const victim = (await callJson("/api/v1/namespaces/default/pods/victim")).body;
      assert.equal(victim.status.phase, "Failed");
      assert.equal(victim.status.reason, "Evicted");
      const bad = await callJson("/_cluster/faults", { method: "POST", body: { kind: "bogus" } });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /unknown fault kind "bogus"/);
    });

    await t.step("claims are bound at once to a host directory, removed on delete", async () => {
      const claim = await callJson("/api/v1/namespaces/default/persistentvolumeclaims", {
        method: "POST",
        body: {
          metadata: { name: "work" },
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
        },
      });
      assert.equal(claim.status, 201);
      assert.equal(claim.body.status.phase, "Pending");
      await server.control.settle();
      const bound = (await callJson("/api/v1/namespaces/default/persistentvolumeclaims/work")).body;
      assert.equal(bound.status.phase, "Bound");
      assert.deepEqual(bound.status.capacity, { storage: "1Gi" });
      const dir = server.control.kubeletView().claimHostPath("default", "work")!;
      assert.ok((await Deno.stat(dir)).isDirectory);
      await callJson("/api/v1/namespaces/default/persistentvolumeclaims/work", {
        method: "DELETE",
      });
      assert.equal(await Deno.stat(dir).catch(() => null), null);
      const invalid = await callJson("/api/v1/namespaces/default/persistentvolumeclaims", {
        method: "POST",
        body: { metadata: { name: "empty" }, spec: {} },
      });
      assert.deepEqual(
        invalid.body.details.causes.map((c: { field: string }) => c.field),
        ["spec.accessModes", "spec.resources[storage]"],
      );
    });

    await t.step("namespaces: objects need one; deleting it takes its pods along", async () => {
      const orphan = await callJson("/api/v1/namespaces/ci/pods", {
        method: "POST",
        body: pod("x"),
      });
      assert.equal(orphan.status, 404);
      assert.equal(orphan.body.message, 'namespaces "ci" not found');
      await callJson("/api/v1/namespaces", { method: "POST", body: { metadata: { name: "ci" } } });
      assert.equal(
        (await callJson("/api/v1/namespaces/ci/pods", { method: "POST", body: pod("x") })).status,
        201,
      );
      const deleting = await callJson("/api/v1/namespaces/ci", { method: "DELETE" });
      assert.equal(deleting.body.status.phase, "Terminating");
      await server.control.settle();
      assert.equal((await callJson("/api/v1/namespaces/ci")).status, 404);
      assert.equal(server.control.store.list("pods", "ci").length, 0);
    });

    await t.step("deleting an owner pod collects its dependents", async () => {
      const owner = (await callJson("/api/v1/namespaces/default/pods/alpha")).body;
      await callJson("/api/v1/namespaces/default/secrets", {
        method: "POST",
        body: {
          metadata: {
            name: "owned",
            ownerReferences: [{
              apiVersion: "v1",
              kind: "Pod",
              name: "alpha",
              uid: owner.metadata.uid,
            }],
          },
          type: "kubernetes.io/dockerconfigjson",
          data: { ".dockerconfigjson": btoa('{"auths":{}}') },
        },
      });
      const deleted = await callJson("/api/v1/namespaces/default/pods/alpha?gracePeriodSeconds=0", {
        method: "DELETE",
      });
      assert.equal(deleted.status, 200);
      assert.ok(deleted.body.metadata.deletionTimestamp);
      assert.equal((await callJson("/api/v1/namespaces/default/pods/alpha")).status, 404);
      await server.control.settle();
      assert.equal((await callJson("/api/v1/namespaces/default/secrets/owned")).status, 404);
    });
  } finally {
    client.close();
    await server.close();
    await Deno.remove(stateDir, { recursive: true });
  }
});
