import assert from "node:assert/strict";
import {
  channelFrame,
  decodeClientFrame,
  exitStatus,
  negotiateSubprotocol,
  statusFrame,
} from "./channels.ts";

Deno.test("channels: negotiation prefers v5 and parses offers with or without spaces", () => {
  assert.equal(
    negotiateSubprotocol("v4.channel.k8s.io,v5.channel.k8s.io,channel.k8s.io"),
    "v5.channel.k8s.io",
  );
  assert.equal(negotiateSubprotocol("v3.channel.k8s.io, v4.channel.k8s.io"), "v4.channel.k8s.io");
  assert.equal(negotiateSubprotocol("channel.k8s.io"), undefined);
  assert.equal(negotiateSubprotocol(null), undefined);
});

Deno.test("channels: frames are prefixed with their channel byte", () => {
  assert.deepEqual(channelFrame(1), new Uint8Array([1]));
  assert.deepEqual(channelFrame(2, new Uint8Array([104, 105])), new Uint8Array([2, 104, 105]));
});

Deno.test("channels: client frames decode per protocol", () => {
  assert.deepEqual(decodeClientFrame(new Uint8Array([0, 65]), "v4.channel.k8s.io"), {
    kind: "stdin",
    data: new Uint8Array([65]),
  });
  assert.deepEqual(decodeClientFrame(new Uint8Array([255, 0]), "v5.channel.k8s.io"), {
    kind: "close-stdin",
  });
  assert.deepEqual(decodeClientFrame(new Uint8Array([255, 0]), "v4.channel.k8s.io"), {
    kind: "ignored",
  });
  const resize = new TextEncoder().encode('{"Width":80,"Height":24}');
  assert.deepEqual(decodeClientFrame(new Uint8Array([4, ...resize]), "v5.channel.k8s.io"), {
    kind: "resize",
    width: 80,
    height: 24,
  });
});

Deno.test("channels: exit statuses read like the kubelet's", () => {
  assert.deepEqual(exitStatus(0), { metadata: {}, status: "Success" });
  const failed = exitStatus(3) as { reason: string; details: { causes: unknown[] } };
  assert.equal(failed.reason, "NonZeroExitCode");
  assert.deepEqual(failed.details.causes, [{ reason: "ExitCode", message: "3" }]);
  const frame = statusFrame(exitStatus(0));
  assert.equal(frame[0], 3);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(frame.subarray(1))), {
    metadata: {},
    status: "Success",
  });
});
