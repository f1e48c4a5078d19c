import assert from "node:assert/strict";
import { kubehookLabels, labelValue, runnerOwnerReference, runnerSelector } from "./metadata.ts";

Deno.test("labels and selector name the runner pod and kubehook", () => {
  assert.deepEqual(kubehookLabels("arc-x", "arc-x-workflow"), {
    "runner-pod": "arc-x",
    "app.kubernetes.io/managed-by": "kubehook",
    "kubehook.io/job": "arc-x-workflow",
  });
  assert.equal(runnerSelector("arc-x"), "runner-pod=arc-x,app.kubernetes.io/managed-by=kubehook");
  assert.deepEqual(runnerOwnerReference("arc-x", "u-1"), {
    apiVersion: "v1",
    kind: "Pod",
    name: "arc-x",
    uid: "u-1",
  });
});

Deno.test("label values stay valid and stable for long names", () => {
  const long = "r".repeat(70) + ".x";
  const value = labelValue(long);
  assert.ok(value.length <= 63);
  assert.match(value, /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/);
  assert.equal(labelValue(long), value);
  assert.notEqual(labelValue("r".repeat(70) + ".y"), value);
  assert.match(labelValue("-odd name-"), /^odd-name-[0-9a-f]{8}$/);
  assert.equal(runnerSelector(long), `runner-pod=${value},app.kubernetes.io/managed-by=kubehook`);
});
