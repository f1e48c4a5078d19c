import assert from "node:assert/strict";
import { KubeApiError } from "./errors.ts";
import { type WatchEvent, watchEvents } from "./watch_stream.ts";

const PATH = "/api/v1/namespaces/ci/pods";

/** A body that delivers `text` cut at the given byte offsets. */
function chunked(text: string, cuts: number[]): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  const bounds = [0, ...cuts, bytes.length];
  return ReadableStream.from(bounds.slice(1).map((end, i) => bytes.slice(bounds[i], end)));
}

async function collect<T>(events: AsyncIterable<WatchEvent<T>>): Promise<WatchEvent<T>[]> {
  const all: WatchEvent<T>[] = [];
  for await (const event of events) all.push(event);
  return all;
}

Deno.test("events split anywhere, even inside a UTF-8 character, are put back together", async () => {
  const lines = [
    { type: "ADDED", object: { metadata: { name: "jöb" } } },
    { type: "MODIFIED", object: { metadata: { name: "jöb", resourceVersion: "7" } } },
    { type: "DELETED", object: { metadata: { name: "jöb" } } },
  ];
  const text = lines.map((l) => JSON.stringify(l)).join("\n") + "\n\n";
  const umlaut = new TextEncoder().encode(text).indexOf(0xc3);
  for (const cuts of [[], [1, umlaut + 1, 60], [...Array(text.length).keys()].slice(1)]) {
    assert.deepEqual(await collect(watchEvents(chunked(text, cuts), PATH)), lines);
  }
});

Deno.test("a last event without a newline still counts", async () => {
  const text = JSON.stringify({ type: "ADDED", object: { n: 1 } });
  assert.deepEqual(await collect(watchEvents(chunked(text, [5]), PATH)), [
    { type: "ADDED", object: { n: 1 } },
  ]);
});

Deno.test("an ERROR event throws its Status as a KubeApiError (410: re-list)", async () => {
  const text = JSON.stringify({ type: "ADDED", object: {} }) + "\n" + JSON.stringify({
    type: "ERROR",
    object: {
      kind: "Status",
      status: "Failure",
      message: "too old resource version: 1 (9)",
      reason: "Expired",
      code: 410,
    },
  }) + "\n";
  const seen: string[] = [];
  await assert.rejects(
    async () => {
      for await (const event of watchEvents(chunked(text, []), PATH)) seen.push(event.type);
    },
    (err: KubeApiError) => err.status === 410 && err.reason === "Expired",
  );
  assert.deepEqual(seen, ["ADDED"]);
});

Deno.test("a body that breaks mid-stream ends the watch after the events it delivered", async () => {
  const first = new TextEncoder().encode(JSON.stringify({ type: "ADDED", object: {} }) + "\n");
  let pulls = 0;
  // Erroring drops queued chunks, so the event goes out on the first pull, the error on the next.
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulls++ === 0) controller.enqueue(first);
      else controller.error(new TypeError("error reading a body from connection"));
    },
  }, { highWaterMark: 0 });
  assert.deepEqual(await collect(watchEvents(body, PATH)), [{ type: "ADDED", object: {} }]);
});
