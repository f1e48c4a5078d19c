import assert from "node:assert/strict";
import { LogLineSplitter, LogResume, parseLogTime, splitLogLines } from "./log_lines.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

Deno.test("kubelet log times parse with nanoseconds, trimmed fractions and offsets", () => {
  assert.deepEqual(parseLogTime("2026-12-03T11:20:10.123456789Z"), {
    seconds: Date.UTC(2026, 11, 3, 11, 20, 10) / 1000,
    nanos: 123456789,
  });
  assert.deepEqual(parseLogTime("2026-12-03T11:20:10.5Z")?.nanos, 500000000);
  assert.deepEqual(parseLogTime("2026-12-03T12:20:10+01:00"), parseLogTime("2026-12-03T11:20:10Z"));
  assert.equal(parseLogTime("hello"), undefined);
});

Deno.test("lines keep their bytes; one without a time is kept whole", () => {
  const lines = splitLogLines(
    bytes("2026-12-03T11:20:10Z a b\n\nno-time\n2026-12-03T11:20:11Z \n"),
  );
  assert.deepEqual(lines.map((l) => text(l.text)), ["a b\n", "\n", "no-time\n", "\n"]);
  assert.equal(lines[1].time, undefined);
});

Deno.test("the splitter joins lines cut across chunks and flushes a last partial line", async () => {
  const chunks = ["2026-12-03T11:20:10Z he", "llo\n2026-12-03T11:20:1", "1Z end"].map(bytes);
  const out = await Array.fromAsync(ReadableStream.from(chunks).pipeThrough(new LogLineSplitter()));
  assert.deepEqual(out.map((l) => text(l.text)), ["hello\n", "end"]);
  assert.equal(out[1].time?.seconds, Date.UTC(2026, 11, 3, 11, 20, 11) / 1000);
});

Deno.test("a resumed log shows every line once, lines sharing a time included", () => {
  const t = (s: string) => parseLogTime(`2026-12-03T11:20:${s}Z`)!;
  const resume = new LogResume();
  assert.equal(resume.since(), undefined);
  const first = ["10.1", "10.2", "10.2"].map((s) => resume.take(t(s)));
  assert.deepEqual(first, [true, true, true]);
  assert.equal(resume.since(), "2026-12-03T11:20:10Z");
  resume.reconnect();
  // The second connection starts at 11:20:10 and repeats all three before the new ones.
  const second = ["10.1", "10.2", "10.2", "10.2", "11.0"].map((s) => resume.take(t(s)));
  assert.deepEqual(second, [false, false, false, true, true]);
});

Deno.test("a line longer than the cap comes in pieces, the first with its time, none gathered", async () => {
  const body = "x".repeat(2500);
  const line = new TextEncoder().encode(
    `2026-12-03T11:20:10.5Z ${body}\n2026-12-03T11:20:11Z next\n`,
  );
  const chunks = Array.from(
    { length: Math.ceil(line.length / 100) },
    (_, i) => line.subarray(i * 100, (i + 1) * 100),
  );
  const out = await Array.fromAsync(
    ReadableStream.from(chunks).pipeThrough(new LogLineSplitter(1000)),
  );
  const text = (l: { text: Uint8Array }) => new TextDecoder().decode(l.text);
  assert.ok(out.every((l) => l.text.length <= 1100), "a piece grew past the cap");
  const pieces = out.slice(0, -1);
  assert.deepEqual(pieces.map((l) => l.partial ?? false), [true, true, false]);
  assert.equal(pieces.map(text).join(""), `${body}\n`);
  assert.deepEqual(pieces.map((l) => l.time !== undefined), [true, false, false]);
  assert.equal(text(out.at(-1)!), "next\n");
  assert.equal(out.at(-1)!.time?.seconds, Date.parse("2026-12-03T11:20:11Z") / 1000);
});
