import assert from "node:assert/strict";
import type { V1Secret } from "@kubernetes/client-node";
import { credentialsFor, secretValue } from "./pull_secrets.ts";

function dockerConfig(auths: Record<string, unknown>): V1Secret {
  return {
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": btoa(JSON.stringify({ auths })) },
  };
}

Deno.test("username/password and base64 auth entries both give credentials", () => {
  const secrets = [
    dockerConfig({ "registry.local": { username: "robot", password: "s3cret" } }),
    dockerConfig({ "https://registry.local/v2/": { auth: btoa("robot:pa:ss") } }),
    dockerConfig({ "ghcr.io": { username: "other", password: "x" } }),
  ];
  assert.deepEqual(credentialsFor(secrets, "registry.local"), [
    { username: "robot", password: "s3cret" },
    { username: "robot", password: "pa:ss" },
  ]);
});

Deno.test("malformed or unrelated secrets offer nothing", () => {
  const broken: V1Secret = { data: { ".dockerconfigjson": btoa("{not json") } };
  const opaque: V1Secret = { type: "Opaque", data: { token: btoa("x") } };
  assert.deepEqual(credentialsFor([broken, opaque], "registry.local"), []);
});

Deno.test("secretValue decodes data and prefers stringData", () => {
  const utf8 = btoa(String.fromCharCode(...new TextEncoder().encode("grüß")));
  const secret: V1Secret = { data: { a: utf8 } };
  assert.equal(secretValue(secret, "a"), "grüß");
  assert.equal(
    secretValue({ stringData: { a: "plain" }, data: { a: "aGk=" } } as V1Secret, "a"),
    "plain",
  );
  assert.equal(secretValue(secret, "missing"), undefined);
});
