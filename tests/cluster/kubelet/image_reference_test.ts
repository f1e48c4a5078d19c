import assert from "node:assert/strict";
import { InvalidImageNameError, parseImageReference } from "./image_reference.ts";

Deno.test("short Docker Hub names get docker.io, library/ and latest", () => {
  const ref = parseImageReference("busybox");
  assert.equal(ref.normalized, "docker.io/library/busybox:latest");
  assert.equal(ref.repository, "docker.io/library/busybox");
  assert.ok(ref.floating);
});

Deno.test("explicit registries, nested paths, ports and digests are kept", () => {
  assert.equal(
    parseImageReference("ghcr.io/actions/actions-runner:2.321.0").normalized,
    "ghcr.io/actions/actions-runner:2.321.0",
  );
  const local = parseImageReference("localhost:5000/team/app");
  assert.equal(local.domain, "localhost:5000");
  assert.equal(local.path, "team/app");
  const digest = "sha256:" + "a".repeat(64);
  const pinned = parseImageReference(`alpine@${digest}`);
  assert.equal(pinned.normalized, `docker.io/library/alpine@${digest}`);
  assert.ok(!pinned.floating);
  assert.ok(!parseImageReference("node:20").floating);
});

Deno.test("malformed references are InvalidImageName", () => {
  for (const image of ["Busybox", "busybox:", "a//b", "busybox:bad tag", "x@sha256:zz", ""]) {
    assert.throws(() => parseImageReference(image), InvalidImageNameError, image);
  }
});
