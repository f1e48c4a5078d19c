/**
 * pods/exec over WebSocket on the API server with the stand-in kubelet: framing per
 * subprotocol, stdin and close-stdin, the status frame, the get+create authorization of the
 * upgrade, and the exec-drop / exec-stall faults as a bare client sees them on the wire.
 */
import assert from "node:assert/strict";
import { channelFrame } from "./api/channels.ts";
import { channelText, startTestApi, testPod } from "./api/test_api.ts";
import { Opcode } from "./api/websocket.ts";

Deno.test("exec websockets", async (t) => {
  await using api = await startTestApi();
  await api.json("/api/v1/namespaces/default/pods", { method: "POST", body: testPod("alpha") });
  const execPath = (args: string) => `/api/v1/namespaces/default/pods/alpha/exec?${args}`;

  await t.step("exec v5: empty first frame, output, one status frame, close 1000", async () => {
    const result = await api.exec(
      execPath(
        "command=sh&command=-c&command=echo%20out%3B%20echo%20err%20%3E%262%3B%20exit%203&stdout=true&stderr=1",
      ),
      ["v4.channel.k8s.io", "v5.channel.k8s.io"],
    );
    assert.equal(result.protocol, "v5.channel.k8s.io");
    assert.deepEqual([...result.frames[0]], [1]);
    assert.equal(channelText(result.frames, 1), "out\n");
    assert.equal(channelText(result.frames, 2), "err\n");
    const statuses = result.frames.filter((f) => f[0] === 3);
    assert.equal(statuses.length, 1);
    const status = JSON.parse(channelText(statuses, 3));
    assert.equal(status.reason, "NonZeroExitCode");
    assert.deepEqual(status.details.causes, [{ reason: "ExitCode", message: "3" }]);
    assert.equal(result.frames.at(-1)![0], 3);
    assert.equal(result.closeCode, 1000);
  });

  await t.step("exec v5: stdin then close-stdin on channel 255", async () => {
    const result = await api.exec(
      execPath("command=cat&stdin=true&stdout=true&stderr=true"),
      ["v5.channel.k8s.io"],
      (ws) => {
        ws.send(channelFrame(0, new TextEncoder().encode("hello")));
        ws.send(new Uint8Array([255, 0]));
      },
    );
    assert.equal(channelText(result.frames, 1), "hello");
    assert.deepEqual(JSON.parse(channelText(result.frames, 3)), {
      metadata: {},
      status: "Success",
    });
  });

  await t.step("exec v4 (client-node's offer without spaces) is echoed", async () => {
    const result = await api.exec(execPath("command=true&stdout=1"), [
      "v4.channel.k8s.io",
      "v3.channel.k8s.io",
      "channel.k8s.io",
    ]);
    assert.equal(result.protocol, "v4.channel.k8s.io");
    assert.equal(result.closeCode, 1000);
  });

  await t.step("websocket exec needs get and create on pods/exec", async () => {
    const denied = await api.rawExec(execPath("command=true&stdout=1"), "restricted");
    assert.match(denied.head, /^HTTP\/1.1 403/);
    assert.equal(
      JSON.parse(denied.body).message,
      'pods "alpha" is forbidden: User "system:serviceaccount:default:kubehook-restricted" cannot get ' +
        'resource "pods/exec" in API group "" in the namespace "default"',
    );
    const allowed = await api.rawExec(execPath("command=true&stdout=1"), "runner");
    assert.match(allowed.head, /^HTTP\/1.1 101/);
    assert.match(allowed.head, /Sec-WebSocket-Protocol: v5.channel.k8s.io/);
  });

  await t.step("pings are answered with pongs", async () => {
    const script = "echo 0123; sleep 0.2; echo more";
    const result = await api.rawExec(
      execPath(`command=sh&command=-c&command=${encodeURIComponent(script)}&stdout=true`),
      "admin",
      4,
    );
    assert.ok(result.frames.some((f) => f.opcode === Opcode.pong));
  });

  await t.step("exec into a pod that was never scheduled is a 400", async () => {
    await api.json("/_cluster/faults", { method: "POST", body: { kind: "unschedulable" } });
    await api.json("/api/v1/namespaces/default/pods", { method: "POST", body: testPod("pending") });
    const refused = await api.rawExec(
      "/api/v1/namespaces/default/pods/pending/exec?command=true&stdout=1",
    );
    assert.match(refused.head, /^HTTP\/1.1 400 Bad Request/);
    assert.equal(JSON.parse(refused.body).message, "pod pending does not have a host assigned");
  });

  await t.step("exec-drop cuts the connection with no close frame after N bytes", async () => {
    await api.json("/_cluster/faults", {
      method: "POST",
      body: { kind: "exec-drop", afterBytes: 5, count: 1 },
    });
    const marker = `${api.stateDir}/still-running`;
    const script = `echo 0123456789; sleep 1; touch ${marker}`;
    const result = await api.rawExec(
      execPath(`command=sh&command=-c&command=${encodeURIComponent(script)}&stdout=true`),
    );
    const payloads = result.frames.map((f) => f.payload);
    assert.ok(result.frames.every((f) => f.opcode === Opcode.binary), "no close frame");
    assert.equal(channelText(payloads, 1), "01234");
    assert.equal(payloads.filter((f) => f[0] === 3).length, 0, "no status");
    assert.deepEqual((await api.json("/_cluster/faults")).body, []);
    for (let i = 0; i < 100 && !(await Deno.stat(marker).catch(() => null)); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(await Deno.stat(marker), "the process ran on after the cut");
  });

  await t.step("exec-stall goes silent after N bytes: no pong, no status, no close", async () => {
    await api.json("/_cluster/faults", {
      method: "POST",
      body: { kind: "exec-stall", afterBytes: 4 },
    });
    const script = "echo 0123456789; sleep 0.2; echo more";
    const result = await api.rawExec(
      execPath(`command=sh&command=-c&command=${encodeURIComponent(script)}&stdout=true`),
      "admin",
      4,
    );
    assert.deepEqual(result.frames.map((f) => f.opcode), [Opcode.binary, Opcode.binary]);
    assert.equal(channelText(result.frames.map((f) => f.payload), 1), "0123");
  });
});
