import assert from "node:assert/strict";
import { parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import { ApiError } from "./status.ts";

Deno.test("label selector: equality, inequality, existence and sets combine with AND", () => {
  const match = parseLabelSelector("a=b,c!=d,e,!f,k in (x, y),n notin (z)");
  assert.ok(match({ a: "b", c: "x", e: "", k: "y", n: "q" }));
  assert.ok(match({ a: "b", e: "1", k: "x" }), "absent c and n satisfy != and notin");
  assert.ok(!match({ a: "b", c: "d", e: "1", k: "x" }), "c!=d");
  assert.ok(!match({ a: "b", e: "1", f: "1", k: "x" }), "!f");
  assert.ok(!match({ a: "b", k: "x" }), "e must exist");
  assert.ok(!match({ a: "b", e: "1", k: "w" }), "k in (x,y)");
  assert.ok(!match({ a: "b", e: "1", k: "x", n: "z" }), "n notin (z)");
  assert.ok(!match(undefined));
});

Deno.test("label selector: empty matches everything, == is =", () => {
  assert.ok(parseLabelSelector("")({}));
  assert.ok(parseLabelSelector(null)(undefined));
  assert.ok(parseLabelSelector("app==web")({ app: "web" }));
  assert.ok(parseLabelSelector("example.com/role=job")({ "example.com/role": "job" }));
});

Deno.test("label selector: a malformed term is a 400 naming it", () => {
  assert.throws(() => parseLabelSelector("a=b c"), ApiError);
  try {
    parseLabelSelector("a=%%");
    assert.fail("expected an error");
  } catch (e) {
    assert.ok(e instanceof ApiError);
    assert.equal(e.status.code, 400);
    assert.match(e.status.message ?? "", /invalid label value "%%"/);
  }
});

Deno.test("field selector: dotted paths with = and !=", () => {
  const pod = { metadata: { name: "web", namespace: "ci" }, status: { phase: "Running" } };
  assert.ok(parseFieldSelector("metadata.name=web")(pod));
  assert.ok(!parseFieldSelector("metadata.name=db")(pod));
  assert.ok(parseFieldSelector("metadata.namespace==ci,status.phase!=Failed")(pod));
  assert.ok(parseFieldSelector("spec.nodeName=")(pod), "absent field equals empty");
  assert.throws(() => parseFieldSelector("metadata.name"), ApiError);
});
