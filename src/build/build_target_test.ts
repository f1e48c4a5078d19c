import assert from "node:assert/strict";
import { formatRef } from "../registry/registry_client.ts";
import { apiHost, buildTarget, splitHost } from "./build_target.ts";

const registry = {
  push: "registry.ci.svc:5000/team",
  pull: "localhost:30500/team",
  secretName: "regcred",
  insecure: true,
};

Deno.test("a downloaded action's image is named after it, tagged with the build's digest", () => {
  const target = buildTarget(
    registry,
    "/runner/_work/_actions/Octo/Hello_World/v1",
    "/runner/_work",
    "ab12",
  );
  assert.equal(target.action, "Octo/Hello_World/v1");
  assert.equal(formatRef(target.push), "registry.ci.svc:5000/team/octo-hello-world-v1:ctx-ab12");
  assert.equal(formatRef(target.pull), "localhost:30500/team/octo-hello-world-v1:ctx-ab12");
});

Deno.test("a local action is named after its path in the work directory", () => {
  const target = buildTarget(registry, "/w/repo/repo/.github/actions/lint", "/w/", "00");
  assert.equal(target.push.repository, "team/repo-repo-github-actions-lint");
  // Outside <work>: its directory's name.
  assert.equal(
    buildTarget(registry, "/opt/x/My.Action", "/w", "00").push.repository,
    "team/my-action",
  );
});

Deno.test("registry hosts are read as docker reads image names", () => {
  assert.deepEqual(splitHost("ghcr.io/org/sub"), { registry: "ghcr.io", path: "org/sub" });
  assert.deepEqual(splitHost("localhost/x"), { registry: "localhost", path: "x" });
  assert.deepEqual(splitHost("reg:5000"), { registry: "reg:5000", path: "" });
  assert.deepEqual(splitHost("dockerhandle"), { registry: "docker.io", path: "dockerhandle" });
  assert.equal(apiHost("docker.io"), "registry-1.docker.io");
  assert.equal(apiHost("ghcr.io"), "ghcr.io");
});
