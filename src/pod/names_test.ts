import assert from "node:assert/strict";
import {
  jobPodName,
  randomSuffix,
  secretName,
  serviceContainerNames,
  shortHash,
  stepPodName,
} from "./names.ts";

const DNS1123 = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

Deno.test("job pod name is <runner-pod>-workflow when it fits", () => {
  assert.equal(jobPodName("arc-runner-x7k2p"), "arc-runner-x7k2p-workflow");
  assert.equal(jobPodName("arc-runner-x7k2p", "ab12c"), "arc-runner-x7k2p-ab12c-workflow");
});

Deno.test("long runner pod names are cut, stay distinct and stable", () => {
  const a = "a".repeat(50) + "-runner-one";
  const b = "a".repeat(50) + "-runner-two";
  for (
    const name of [
      jobPodName(a),
      jobPodName(b),
      jobPodName(a, "zz9"),
      stepPodName(a),
      secretName(b),
    ]
  ) {
    assert.ok(name.length <= 63, name);
    assert.match(name, DNS1123);
  }
  assert.notEqual(jobPodName(a), jobPodName(b));
  assert.equal(jobPodName(a), jobPodName(a));
  assert.match(jobPodName(a), /-[0-9a-f]{8}-workflow$/);
  assert.ok(jobPodName(`${"x".repeat(45)}.-${"y".repeat(20)}`).length <= 63);
});

Deno.test("step and secret names carry 8 random characters", () => {
  assert.match(stepPodName("arc-x"), /^arc-x-step-[a-z0-9]{8}$/);
  assert.match(secretName("arc-x"), /^arc-x-secret-[a-z0-9]{8}$/);
  assert.equal(secretName("arc-x", "abcdefgh"), "arc-x-secret-abcdefgh");
  assert.notEqual(randomSuffix(8), randomSuffix(8));
  assert.equal(shortHash("x"), shortHash("x"));
  assert.match(shortHash(""), /^[0-9a-f]{8}$/);
});

Deno.test("service names come from the image and are unique labels", () => {
  assert.deepEqual(
    serviceContainerNames([
      "docker.io/library/redis:7",
      "bitnami/redis",
      "localhost:5000/team/my_DB@sha256:abc",
      "postgres:16",
      "ghcr.io/o/job:1",
      "___",
      "redis-2",
    ]),
    ["redis", "redis-2", "my-db", "postgres", "job-2", "service", "redis-2-2"],
  );
  const long = serviceContainerNames(["x".repeat(80), "x".repeat(80)]);
  for (const name of long) {
    assert.ok(name.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name));
  }
  assert.notEqual(long[0], long[1]);
});
