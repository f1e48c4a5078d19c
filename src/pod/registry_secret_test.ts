import assert from "node:assert/strict";
import { renderRegistrySecret } from "./registry_secret.ts";

function decode(secret: ReturnType<typeof renderRegistrySecret>) {
  const binary = atob(secret.data![".dockerconfigjson"]);
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
}

Deno.test("dockerconfigjson secret with auth, labels, immutable", () => {
  const secret = renderRegistrySecret({
    name: "arc-x-secret-abcdefgh",
    registry: { username: "robot", password: "s3cret", serverUrl: "registry.local" },
    labels: { "runner-pod": "arc-x" },
    ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: "arc-x", uid: "u" }],
  });
  assert.equal(secret.type, "kubernetes.io/dockerconfigjson");
  assert.equal(secret.immutable, true);
  assert.equal(secret.metadata?.name, "arc-x-secret-abcdefgh");
  assert.deepEqual(secret.metadata?.labels, { "runner-pod": "arc-x" });
  assert.equal(secret.metadata?.ownerReferences?.[0].uid, "u");
  assert.deepEqual(decode(secret), {
    auths: {
      "registry.local": { username: "robot", password: "s3cret", auth: btoa("robot:s3cret") },
    },
  });
});

Deno.test("empty serverUrl means Docker Hub; non-ASCII passwords survive", () => {
  const secret = renderRegistrySecret({
    name: "s",
    registry: { username: "u", password: "pässwörd", serverUrl: "" },
    labels: {},
  });
  const auth = decode(secret).auths["https://index.docker.io/v1/"];
  assert.equal(auth.password, "pässwörd");
  assert.equal(secret.metadata?.ownerReferences, undefined);
});
