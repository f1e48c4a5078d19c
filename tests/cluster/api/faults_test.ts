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
  assert.equal(faults.takeApiError("POST", "/api/v1/namespaces/default/pods")?.status, 429);
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

Deno.test("faults: an exec fault without a selector is stored and taken as before", () => {
  const faults = new Faults();
  assert.deepEqual(faults.add({ kind: "exec-stall", afterBytes: 3 }), [
    { kind: "exec-stall", afterBytes: 3, count: 1 },
  ]);
  assert.deepEqual(faults.takeExecFault("sh -c anything"), { kind: "exec-stall", afterBytes: 3 });
  faults.add({ kind: "exec-drop" });
  assert.deepEqual(faults.takeExecFault(), { kind: "exec-drop", afterBytes: 0 }, "attach");
});

Deno.test("faults: an exec fault aimed by command passes other sessions untouched", () => {
  const faults = new Faults();
  faults.add({ kind: "exec-drop", afterBytes: 9, command: "pack_exit", count: 2 });
  assert.equal(faults.takeExecFault("sh -c echo kubehook-started"), undefined);
  assert.equal(faults.takeExecFault(""), undefined, "an attach session has no command");
  assert.deepEqual(faults.takeExecFault("sh -c echo pack_exit=$?"), {
    kind: "exec-drop",
    afterBytes: 9,
  });
  assert.deepEqual(faults.list(), [
    { kind: "exec-drop", afterBytes: 9, command: "pack_exit", count: 1 },
  ]);
  // The parameters are joined with spaces, so a selector may span two of them.
  assert.ok(faults.takeExecFault(["sh", "-c", "x pack_exit"].join(" ")));
  assert.deepEqual(faults.list(), []);
});

Deno.test("faults: skip lets that many matching sessions pass, each fault counting its own", () => {
  const faults = new Faults();
  faults.add([
    { kind: "exec-stall", afterBytes: 1, command: "resume", skip: 1 },
    { kind: "exec-drop", afterBytes: 2, skip: 2 },
  ]);
  assert.deepEqual(faults.list().map((f) => "skip" in f && f.skip), [1, 2]);
  // Not a resume: only the second fault counts it.
  assert.equal(faults.takeExecFault("start"), undefined);
  // A resume: both count it, neither acts yet.
  assert.equal(faults.takeExecFault("resume"), undefined);
  assert.deepEqual(faults.list().map((f) => "skip" in f && f.skip), [0, 0]);
  // The first fault in order takes the next resume; the second waits for another session.
  assert.deepEqual(faults.takeExecFault("resume"), { kind: "exec-stall", afterBytes: 1 });
  assert.deepEqual(faults.takeExecFault("copy"), { kind: "exec-drop", afterBytes: 2 });
  assert.deepEqual(faults.list(), []);
});

Deno.test("faults: an api-error with skip lets that many matching requests pass", () => {
  const faults = new Faults();
  faults.add({ kind: "api-error", status: 503, method: "GET", path: "/exec$", skip: 1, count: 2 });
  assert.equal(faults.takeApiError("GET", "/api/v1/namespaces/d/pods/p"), undefined);
  assert.equal(faults.takeApiError("GET", "/api/v1/namespaces/d/pods/p/exec"), undefined);
  assert.equal(faults.takeApiError("GET", "/api/v1/namespaces/d/pods/p/exec")?.status, 503);
  assert.equal(faults.takeApiError("GET", "/api/v1/namespaces/d/pods/p/exec")?.status, 503);
  assert.equal(faults.takeApiError("GET", "/api/v1/namespaces/d/pods/p/exec"), undefined);
});

Deno.test("faults: selectors are checked, and refused on faults that are not exec faults", () => {
  const faults = new Faults();
  for (
    const bad of [
      { kind: "exec-drop", command: 3 },
      { kind: "exec-drop", skip: -1 },
      { kind: "exec-stall", skip: 1.5 },
      { kind: "log-drop", command: "tail" },
      { kind: "log-drop", skip: 1 },
      { kind: "api-error", status: 503, command: "sh" },
    ]
  ) {
    assert.throws(
      () => faults.add(bad),
      (e) => e instanceof ApiError && e.status.code === 400,
      JSON.stringify(bad),
    );
  }
  assert.deepEqual(faults.list(), []);
});

Deno.test("faults: an applied api-error is carried out first; only api-error takes it", () => {
  const faults = new Faults();
  faults.add({ kind: "api-error", status: 503, method: "POST", applied: true, count: 1 });
  faults.add({ kind: "api-error", status: 500, method: "POST", count: 1 });
  assert.deepEqual(faults.takeApiError("POST", "/p"), { status: 503, applied: true });
  assert.deepEqual(faults.takeApiError("POST", "/p"), { status: 500, applied: false });
  assert.throws(
    () => faults.add({ kind: "exec-drop", afterBytes: 1, count: 1, applied: true }),
    (error: ApiError) => /"applied" is taken by api-error only/.test(error.message),
  );
});
