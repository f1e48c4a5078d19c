import assert from "node:assert/strict";
import { credentialFor, parseDockerConfig } from "./docker_config.ts";

Deno.test("credentials are found by host, however the key is spelled", () => {
  const config = parseDockerConfig(
    JSON.stringify({
      auths: {
        "https://index.docker.io/v1/": { auth: btoa("hub:pw") },
        "http://registry.local:5000/": { username: "robot", password: "s3:cret" },
        "ghcr.io": { auth: btoa("u:p:with:colons") },
        "broken.io": { auth: "%%%" },
      },
    }),
    "Secret ci/regcred",
  );
  assert.deepEqual(credentialFor(config, "docker.io"), { username: "hub", password: "pw" });
  assert.deepEqual(credentialFor(config, "registry.local:5000"), {
    username: "robot",
    password: "s3:cret",
  });
  assert.deepEqual(credentialFor(config, "GHCR.io"), { username: "u", password: "p:with:colons" });
  assert.equal(credentialFor(config, "broken.io"), undefined);
  assert.equal(credentialFor(config, "quay.io"), undefined);
});

Deno.test("a config that is not one names the secret and the fix", () => {
  assert.throws(
    () => parseDockerConfig("{", "Secret ci/x"),
    /Secret ci\/x.*not JSON.*docker-registry/,
  );
  assert.throws(() => parseDockerConfig("{}", "Secret ci/x"), /no "auths"/);
});
