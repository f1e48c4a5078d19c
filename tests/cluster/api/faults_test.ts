import assert from "node:assert/strict";
import { Faults } from "./faults.ts";
import { ApiError } from "./status.ts";

Deno.test("faults: counts are consumed and spent faults disappear", () => {
  const faults = new Faults();
  faults.add([{ kind: "exec-drop", afterBytes: 10, count: 2 }, { kind: "unschedulable" }]);
  assert.deepEqual(faults.takeExecFault(), { kind: "exec-drop", afterBytes: 10 });
  assert.deepEqual(faults.list()[0], { kind: "exec-drop", afterBytes: 10, count: 1 });
  assert.ok(faults.takeExecFault());
  assert.equal(faults.takeExecFault(), undefined);
  assert.ok(faults.takeUnschedulable());
  assert.ok(!faults.takeUnschedulable());
  assert.deepEqual(faults.list(), []);
});

Deno.test("faults: api-error matches method and path regex", () => {
  const faults = new Faults();
  faults.add({ kind: "api-error", status: 429, method: "post", path: "/pods$", count: 1 });
  assert.equal(faults.takeApiError("GET", "/api/v1/namespaces/default/pods"), undefined);
  assert.equal(faults.takeApiError("POST", "/api/v1/namespaces/default/pods/x"), undefined);
  assert.equal(faults.takeApiError("POST", "/api/v1/namespaces/default/pods"), 429);
  assert.equal(faults.takeApiError("POST", "/api/v1/namespaces/default/pods"), undefined);
});

Deno.test("faults: pod-start-delay without count stays until cleared", () => {
  const faults = new Faults();
  faults.add({ kind: "pod-start-delay", ms: 300 });
  assert.equal(faults.takeStartDelay(), 300);
  assert.equal(faults.takeStartDelay(), 300);
  faults.clear();
  assert.equal(faults.takeStartDelay(), undefined);
});

Deno.test("faults: evictions are returned, not kept; bad faults are 400s that say why", () => {
  const faults = new Faults();
  assert.deepEqual(faults.add({ kind: "evict", pod: "job" }), [{ kind: "evict", pod: "job" }]);
  assert.deepEqual(faults.list(), []);
  for (const bad of [{ kind: "nope" }, { kind: "api-error", status: 200 }, { kind: "evict" }, 3]) {
    assert.throws(() => faults.add(bad), (e) => e instanceof ApiError && e.status.code === 400);
  }
});
