import assert from "node:assert/strict";
import { ContainerLog } from "./container_log.ts";

const text = (s: string) => new TextEncoder().encode(s);
const read = (stream: ReadableStream<Uint8Array>) => new Response(stream).text();

Deno.test("logs keep order across streams and serve tailLines and sinceTime", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = await ContainerLog.create(`${dir}/c.log`);
    log.write(text("one\ntwo\n"), "stdout");
    log.write(text("err\n"), "stderr");
    assert.equal(await read(log.read({ follow: false })), "one\ntwo\nerr\n");
    assert.equal(await read(log.read({ follow: false, tailLines: 2 })), "two\nerr\n");
    assert.equal(await read(log.read({ follow: false, tailLines: 9 })), "one\ntwo\nerr\n");
    assert.equal(await read(log.read({ follow: false, tailLines: 0 })), "");
    const future = new Date(Date.now() + 60_000).toISOString();
    assert.equal(await read(log.read({ follow: false, sinceTime: future })), "");
    const past = new Date(Date.now() - 60_000).toISOString();
    assert.equal(await read(log.read({ follow: false, sinceTime: past })), "one\ntwo\nerr\n");
    log.write(text("partial"), "stdout");
    assert.equal(await read(log.read({ follow: false, tailLines: 1 })), "partial");
    await log.close();
    await log.remove();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("follow streams new chunks until the run ends; subscribers see them live", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = await ContainerLog.create(`${dir}/c.log`);
    const live: string[] = [];
    const stop = log.subscribe((chunk, stream) =>
      live.push(`${stream}:${new TextDecoder().decode(chunk)}`)
    );
    log.write(text("a\n"), "stdout");
    const followed = read(log.read({ follow: true }));
    log.write(text("b\n"), "stderr");
    stop();
    log.write(text("c\n"), "stdout");
    await log.close();
    assert.equal(await followed, "a\nb\nc\n");
    assert.deepEqual(live, ["stdout:a\n", "stderr:b\n"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("timestamps prefix each line with the time its newline was written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = await ContainerLog.create(`${dir}/c.log`);
    const followed = read(log.read({ follow: true, timestamps: true }));
    log.write(text("one\ntw"), "stdout");
    log.write(text("o\n"), "stderr");
    log.write(text("last, no newline"), "stdout");
    await log.close();
    const lines = (await followed).split("\n");
    assert.equal(lines.length, 3);
    for (const [i, content] of ["one", "two", "last, no newline"].entries()) {
      const [time, ...rest] = lines[i].split(" ");
      assert.match(time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/);
      assert.equal(rest.join(" "), content);
    }
    const future = new Date(Date.now() + 60_000).toISOString();
    assert.equal(await read(log.read({ follow: false, timestamps: true, sinceTime: future })), "");
    await log.remove();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
