import assert from "node:assert/strict";
import { acceptKey, encodeFrame, FrameDecoder, Opcode } from "./websocket.ts";

function masked(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  const frame = encodeFrame(opcode, payload, fin);
  const header = frame.length - payload.length;
  const out = new Uint8Array(frame.length + 4);
  out.set(frame.subarray(0, header));
  out[1] |= 0x80;
  const mask = [1, 2, 3, 4];
  out.set(mask, header);
  payload.forEach((b, i) => (out[header + 4 + i] = b ^ mask[i % 4]));
  return out;
}

Deno.test("websocket: frame lengths use the 7-bit, 16-bit and 64-bit forms", () => {
  assert.deepEqual(encodeFrame(Opcode.binary, new Uint8Array([7])), new Uint8Array([0x82, 1, 7]));
  const mid = encodeFrame(Opcode.binary, new Uint8Array(300));
  assert.deepEqual([...mid.subarray(0, 4)], [0x82, 126, 1, 44]);
  const big = encodeFrame(Opcode.binary, new Uint8Array(70000));
  assert.equal(big[1], 127);
  assert.equal(big.length, 70010);
});

Deno.test("websocket: the decoder unmasks client frames split at any byte", () => {
  const payload = new TextEncoder().encode("x".repeat(200));
  const bytes = new Uint8Array([
    ...masked(Opcode.binary, payload),
    ...masked(Opcode.ping, new Uint8Array([9])),
  ]);
  const decoder = new FrameDecoder();
  const frames = [];
  for (let i = 0; i < bytes.length; i += 7) frames.push(...decoder.push(bytes.subarray(i, i + 7)));
  assert.equal(frames.length, 2);
  assert.deepEqual(frames[0], { fin: true, opcode: Opcode.binary, payload });
  assert.deepEqual(frames[1], { fin: true, opcode: Opcode.ping, payload: new Uint8Array([9]) });
});

Deno.test("websocket: the accept key follows RFC 6455's example", async () => {
  assert.equal(await acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});
