import assert from "node:assert/strict";
import { parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import { ObjectStore } from "./store.ts";
import { eventFor, watchResponse } from "./watch.ts";

const pod = (name: string, app: string) => ({
  metadata: { name, labels: { app } },
  spec: {},
});

async function lines(
  response: Response,
): Promise<
  { type: string; object: { metadata: { name?: string; annotations?: Record<string, string> } } }[]
> {
  const text = await response.text();
  return text.trim().split("\n").map((l) => JSON.parse(l));
}

Deno.test("watch: objects moving in and out of a selector are ADDED and DELETED", () => {
  const store = new ObjectStore();
  const changes: Parameters<typeof eventFor>[0][] = [];
  store.subscribe((c) => changes.push(c));
  store.create("pods", "ns", pod("a", "web"));
  store.update(
    "pods",
    "ns",
    "a",
    (p) => ({ ...p, metadata: { ...p.metadata, labels: { app: "db" } } }),
  );
  store.update(
    "pods",
    "ns",
    "a",
    (p) => ({ ...p, metadata: { ...p.metadata, labels: { app: "web" } } }),
  );
  store.remove("pods", "ns", "a");
  const web = parseLabelSelector("app=web");
  const seen = changes.map((c) => eventFor(c, (o) => web(o.metadata.labels)));
  assert.deepEqual(seen, ["ADDED", "DELETED", "ADDED", "DELETED"]);
});

Deno.test("watch: initial state, then the initial-events-end bookmark, ends on timeout", async () => {
  const store = new ObjectStore();
  store.create("pods", "ns", pod("a", "web"));
  store.create("pods", "ns", pod("b", "web"));
  store.create("pods", "other", pod("c", "web"));
  const events = await lines(watchResponse(store, {
    resource: "pods",
    namespace: "ns",
    labels: parseLabelSelector(""),
    fields: parseFieldSelector("metadata.name!=b"),
    sendInitialEvents: true,
    timeoutSeconds: 0.05,
  }));
  assert.deepEqual(events.map((e) => [e.type, e.object.metadata.name]), [
    ["ADDED", "a"],
    ["BOOKMARK", undefined],
  ]);
  assert.deepEqual(events[1].object.metadata.annotations, { "k8s.io/initial-events-end": "true" });
});

Deno.test("watch: a resourceVersion resumes after it; a compacted one is a 410 ERROR", async () => {
  const store = new ObjectStore(2);
  const first = store.create("pods", "ns", pod("a", "web"));
  store.create("pods", "ns", pod("b", "web"));
  store.create("pods", "ns", pod("c", "web"));
  const resumed = await lines(watchResponse(store, {
    resource: "pods",
    labels: parseLabelSelector(""),
    fields: parseFieldSelector(""),
    resourceVersion: String(Number(first.metadata.resourceVersion) + 1),
    timeoutSeconds: 0.05,
  }));
  assert.deepEqual(resumed.map((e) => e.object.metadata.name), ["c"]);
  const expired = await lines(watchResponse(store, {
    resource: "pods",
    labels: parseLabelSelector(""),
    fields: parseFieldSelector(""),
    resourceVersion: "1",
  }));
  assert.equal(expired.length, 1);
  assert.equal(expired[0].type, "ERROR");
});
