import assert from "node:assert/strict";
import { applyPatch, checkPodUpdate, jsonPatch, mergePatch } from "./patch.ts";
import { ApiError } from "./status.ts";
import type { KubeObject } from "./store.ts";

const pod = (): KubeObject => ({
  metadata: { name: "p", uid: "u", labels: { a: "1" } },
  spec: { containers: [{ name: "c", image: "busybox", command: ["sleep", "1"] }] },
});

Deno.test("patch: merge patch sets, replaces and deletes with null", () => {
  assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null, e: 4 }, f: [1] }), {
    a: 1,
    b: { d: 3, e: 4 },
    f: [1],
  });
});

Deno.test("patch: strategic merge keeps other container fields when changing the image", () => {
  const patched = applyPatch(pod(), "application/strategic-merge-patch+json", {
    metadata: { labels: { b: "2" } },
    spec: { containers: [{ name: "c", image: "busybox:1" }], $setElementOrder: {} },
  });
  assert.deepEqual(patched.metadata.labels, { a: "1", b: "2" });
  assert.deepEqual((patched.spec as { containers: unknown[] }).containers, [
    { name: "c", image: "busybox:1", command: ["sleep", "1"] },
  ]);
  checkPodUpdate(pod(), patched);
});

Deno.test("patch: pods refuse spec changes beyond images, with the real message", () => {
  const patched = applyPatch(pod(), "application/merge-patch+json", {
    spec: { containers: [{ name: "c", image: "busybox", command: ["true"] }] },
  });
  assert.throws(
    () => checkPodUpdate(pod(), patched),
    (e) =>
      e instanceof ApiError && e.status.code === 422 &&
      /pod updates may not change fields/.test(e.status.message ?? ""),
  );
});

Deno.test("patch: JSON patch add, replace, remove and a failing test", () => {
  const doc = { metadata: { labels: { a: "1" } }, list: [1, 2] };
  assert.deepEqual(
    jsonPatch(doc, [
      { op: "add", path: "/metadata/labels/b~1c", value: "2" },
      { op: "replace", path: "/list/0", value: 9 },
      { op: "remove", path: "/metadata/labels/a" },
      { op: "add", path: "/list/-", value: 3 },
    ]),
    { metadata: { labels: { "b/c": "2" } }, list: [9, 2, 3] },
  );
  assert.throws(() => jsonPatch(doc, [{ op: "test", path: "/list/0", value: 5 }]), ApiError);
  assert.throws(
    () => applyPatch(pod(), "application/apply-patch+yaml", {}),
    (e) => e instanceof ApiError && e.status.code === 415,
  );
});
