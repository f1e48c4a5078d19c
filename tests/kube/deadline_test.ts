/**
 * An API server that accepts a request and then says nothing cannot hold a hook: every REST
 * attempt has a deadline for its answer (headers and, for a whole-body call, the body), a
 * stream's body has none (a followed log may be quiet for as long as its step runs), and the
 * caller's cancel ends any wait at once.
 */
import assert from "node:assert/strict";
import { KubeClient } from "../../src/kube/client.ts";

/** A server whose `/silent` never answers, `/half` sends headers and half a body, and `/slow`
 * streams one line now and one when told. */
function quietServer() {
  let release = () => {};
  const later = new Promise<void>((resolve) => release = resolve);
  const pending: (() => void)[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/silent") {
      return new Promise<Response>((resolve) => pending.push(() => resolve(new Response("{}"))));
    }
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new TextEncoder().encode(path === "/half" ? '{"a":' : "first\n"));
        await later;
        if (path === "/slow") controller.enqueue(new TextEncoder().encode("second\n"));
        controller.close();
      },
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  });
  const client = new KubeClient(
    { server: `http://127.0.0.1:${server.addr.port}`, namespace: "ci", source: "the test" },
    { requestTimeoutMs: 300, retry: { attempts: 2, baseDelayMs: 10 } },
  );
  return {
    client,
    release,
    async [Symbol.asyncDispose]() {
      release();
      for (const answer of pending) answer();
      client.close();
      await server.shutdown();
    },
  };
}

Deno.test("REST calls have a deadline for their answer; streams only for their start", async (t) => {
  await using quiet = quietServer();
  for (
    const [path, what] of [
      ["/silent", "no answer: a connection error naming the deadline, after the retries"],
      ["/half", "headers, then a body that never ends: the same"],
    ]
  ) {
    await t.step(what, async () => {
      await assert.rejects(
        quiet.client.get(path),
        (err: Error) =>
          err.name === "KubeConnectionError" &&
          err.message.includes("the API server did not answer within 0.3 s"),
      );
    });
  }
  await t.step("a stream may stay quiet past the deadline", async () => {
    const reader = (await quiet.client.stream("/slow")).pipeThrough(new TextDecoderStream())
      .getReader();
    assert.equal((await reader.read()).value, "first\n");
    await new Promise((resolve) => setTimeout(resolve, 600));
    quiet.release();
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      rest += chunk.value;
    }
    assert.equal(rest, "second\n");
  });
  await t.step("the caller's cancel ends the wait with its reason", async () => {
    const cancel = new AbortController();
    const reason = new Error("the job was cancelled");
    setTimeout(() => cancel.abort(reason), 50);
    await assert.rejects(
      quiet.client.get("/silent", { signal: cancel.signal }),
      (e) => e === reason,
    );
  });
});
