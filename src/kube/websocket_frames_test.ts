import assert from "node:assert/strict";
import {
  acceptKey,
  applyMask,
  closePayload,
  encodeFrame,
  type Frame,
  FrameDecoder,
  Opcode,
  parseClosePayload,
} from "./websocket_frames.ts";

const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);
const MASK = Uint8Array.of(0xa1, 0x5b, 0x07, 0xfe);

function decodeAll(data: Uint8Array, step = data.length): Frame[] {
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  for (let i = 0; i < data.length; i += step) {
    frames.push(...decoder.push(data.subarray(i, i + step)));
  }
  return frames;
}

Deno.test("frames: lengths 125, 126, 65535 and 65536 take the 7, 16 and 64-bit forms", () => {
  for (
    const [n, header, marker] of [[0, 2, 0], [125, 2, 125], [126, 4, 126], [65535, 4, 126], [
      65536,
      10,
      127,
    ], [70000, 10, 127]]
  ) {
    const payload = bytes(n);
    const frame = encodeFrame(Opcode.binary, payload);
    assert.equal(frame.length, header + n, `length ${n}`);
    assert.equal(frame[0], 0x82);
    assert.equal(frame[1], marker);
    const [decoded] = decodeAll(frame);
    assert.deepEqual(decoded, { fin: true, opcode: Opcode.binary, payload });
  }
  const big = encodeFrame(Opcode.binary, bytes(65536));
  assert.equal(new DataView(big.buffer).getBigUint64(2), 65536n);
});

Deno.test("frames: a masked frame carries the key and XORed bytes, the input stays intact", () => {
  for (const n of [0, 1, 3, 5, 125, 126, 1001, 65536]) {
    const payload = bytes(n);
    const frame = encodeFrame(Opcode.binary, payload, { mask: MASK });
    assert.deepEqual(payload, bytes(n), "the caller's bytes were masked in place");
    const header = frame.length - n - 4;
    assert.equal(frame[1] & 0x80, 0x80);
    assert.deepEqual(frame.subarray(header, header + 4), MASK);
    const body = frame.subarray(header + 4);
    for (let i = 0; i < n; i++) {
      assert.equal(body[i], payload[i] ^ MASK[i % 4], `byte ${i} of ${n}`);
    }
    assert.deepEqual(decodeAll(frame, 7)[0].payload, payload);
  }
});

Deno.test("frames: a payload in parts is joined into the one frame", () => {
  const frame = encodeFrame(Opcode.binary, [Uint8Array.of(1), bytes(200)], { mask: MASK });
  assert.deepEqual(decodeAll(frame)[0].payload, Uint8Array.of(1, ...bytes(200)));
});

Deno.test("frames: masking at any alignment equals the byte-wise XOR", () => {
  const buffer = bytes(64);
  for (let offset = 0; offset < 4; offset++) {
    for (const length of [0, 1, 2, 3, 4, 9, 31]) {
      const data = buffer.slice().subarray(offset, offset + length);
      const expected = data.map((b, i) => b ^ MASK[i % 4]);
      applyMask(data, MASK);
      assert.deepEqual(data, expected, `offset ${offset}, length ${length}`);
    }
  }
});

Deno.test("frames: fragments, control frames and close payloads decode from any split", () => {
  const stream = new Uint8Array([
    ...encodeFrame(Opcode.binary, bytes(300), { fin: false, mask: MASK }),
    ...encodeFrame(Opcode.ping, Uint8Array.of(9)),
    ...encodeFrame(Opcode.continuation, bytes(2), { mask: MASK }),
    ...encodeFrame(Opcode.close, closePayload(1001, "going away")),
  ]);
  for (const step of [1, 3, 64, stream.length]) {
    const frames = decodeAll(stream, step);
    assert.deepEqual(frames.map((f) => [f.fin, f.opcode, f.payload.length]), [
      [false, Opcode.binary, 300],
      [true, Opcode.ping, 1],
      [true, Opcode.continuation, 2],
      [true, Opcode.close, 12],
    ]);
    assert.deepEqual(parseClosePayload(frames[3].payload), { code: 1001, reason: "going away" });
  }
  assert.deepEqual(parseClosePayload(new Uint8Array(0)), { code: 1005, reason: "" });
});

Deno.test("frames: the accept key follows RFC 6455's example", async () => {
  assert.equal(await acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

Deno.test("a frame larger than kubehook accepts is refused from its header, before its bytes", () => {
  const header = new Uint8Array(10);
  header[0] = 0x82; // fin, binary
  header[1] = 127; // 64-bit length follows
  new DataView(header.buffer).setBigUint64(2, 2n ** 40n);
  assert.throws(
    () => new FrameDecoder().push(header),
    /a WebSocket frame of 1099511627776 bytes, more than the 16777216 kubehook accepts/,
  );
  const small = new FrameDecoder(4);
  assert.throws(() => small.push(encodeFrame(Opcode.binary, new Uint8Array(5))), /5 bytes/);
  assert.equal(new FrameDecoder(4).push(encodeFrame(Opcode.binary, new Uint8Array(4))).length, 1);
});
