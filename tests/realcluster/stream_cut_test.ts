/**
 * The front door's stream faults cut where the embedded cluster's do: after N bytes of
 * stdout/stderr data (not of WebSocket framing) and N bytes of log text (not of chunk framing),
 * however the server's bytes are split into reads.
 */
import assert from "node:assert/strict";
import { concat } from "../../src/bytes.ts";
import { bodyCutter, type Cutter, webSocketCutter } from "./stream_cut.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** A server's binary frame on `channel` carrying `data`. */
function frame(channel: number, data: string): Uint8Array {
  const payload = concat([Uint8Array.of(channel), text(data)]);
  return concat([Uint8Array.of(0x82, payload.length), payload]);
}

/** Feeds `input` in pieces of `step` bytes; returns everything passed and whether it cut. */
function feed(cutter: Cutter, input: Uint8Array, step: number): { out: Uint8Array; cut: boolean } {
  const parts: Uint8Array[] = [];
  let cut = false;
  for (let i = 0; i < input.length && !cut; i += step) {
    const result = cutter.push(input.subarray(i, i + step));
    parts.push(result.pass);
    cut = result.cut;
  }
  return { out: concat(parts), cut };
}

const ping = Uint8Array.of(0x89, 0);
const session = concat([
  frame(1, ""),
  frame(1, "hello"),
  ping,
  frame(2, "world"),
  frame(3, '{"status":"Success"}'),
]);

Deno.test("exec faults count stdout and stderr data, not frames", async (t) => {
  for (const step of [1, 3, session.length]) {
    await t.step(`read ${step} bytes at a time`, () => {
      assert.deepEqual(
        feed(webSocketCutter(7), session, step),
        { out: concat([frame(1, ""), frame(1, "hello"), ping, frame(2, "wo")]), cut: true },
      );
      assert.deepEqual(feed(webSocketCutter(0), session, step), {
        out: frame(1, ""),
        cut: true,
      });
      assert.deepEqual(
        feed(webSocketCutter(5), session, step),
        { out: concat([frame(1, ""), frame(1, "hello")]), cut: true },
      );
      assert.deepEqual(feed(webSocketCutter(100), session, step), { out: session, cut: false });
    });
  }
});

Deno.test("log-drop counts log text, not chunk framing", () => {
  const body = text("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  for (const step of [1, 4, body.length]) {
    assert.deepEqual(feed(bodyCutter(7, true), body, step), {
      out: text("5\r\nhello\r\n2\r\n w\r\n"),
      cut: true,
    });
    assert.deepEqual(feed(bodyCutter(0, true), body, step), { out: text(""), cut: true });
    assert.deepEqual(feed(bodyCutter(100, true), body, step), { out: body, cut: false });
  }
  assert.deepEqual(feed(bodyCutter(3, false), text("hello"), 2), { out: text("hel"), cut: true });
});
