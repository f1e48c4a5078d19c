import assert from "node:assert/strict";
import { memoryQuantity, parseDockerOptions, parseEnvFile } from "./docker_options.ts";

Deno.test("real-world options: limits, user, health check of a postgres service", () => {
  const o = parseDockerOptions(
    `--cpus 2 --memory=4g --memory-reservation 512m --user 1001:1001 ` +
      `--health-cmd "pg_isready -U postgres" --health-interval 10s --health-timeout 5s ` +
      `--health-retries 5 --health-start-period=1m30s`,
    "service postgres",
  );
  assert.deepEqual(o.resources, {
    limits: { cpu: "2", memory: "4Gi" },
    requests: { memory: "512Mi" },
  });
  assert.deepEqual(o.user, { uid: 1001, gid: 1001 });
  assert.deepEqual(o.health, {
    command: ["/bin/sh", "-c", "pg_isready -U postgres"],
    periodSeconds: 10,
    timeoutSeconds: 5,
    failureThreshold: 5,
    startPeriodSeconds: 90,
  });
  assert.deepEqual(o.warnings, []);
});

Deno.test("env, entrypoint, workdir, shm, hosts, labels, privileges; repeated flags add up", () => {
  const o = parseDockerOptions(
    `-e A=1 --env B='two words' -e FROM_RUNNER -e MISSING --entrypoint /bin/app -w /src ` +
      `--shm-size 1g -h build --add-host db.local:10.0.0.5 --add-host cache:10.0.0.6 ` +
      `-l team=ci --label x --cap-add SYS_PTRACE,CAP_NET_ADMIN --cap-drop ALL --read-only --privileged --rm -it`,
    "job container",
    { env: { FROM_RUNNER: "runner value" } },
  );
  assert.deepEqual(o.env, { A: "1", B: "two words", FROM_RUNNER: "runner value" });
  assert.equal(o.entrypoint, "/bin/app");
  assert.equal(o.workdir, "/src");
  assert.equal(o.shmSize, "1Gi");
  assert.equal(o.hostname, "build");
  assert.deepEqual(o.addHosts, [
    { ip: "10.0.0.5", hostname: "db.local" },
    { ip: "10.0.0.6", hostname: "cache" },
  ]);
  assert.deepEqual(o.labels, { team: "ci", x: "" });
  assert.deepEqual(o.capAdd, ["SYS_PTRACE", "NET_ADMIN"]);
  assert.deepEqual(o.capDrop, ["ALL"]);
  assert.equal(o.readOnlyRootFilesystem, true);
  assert.equal(o.privileged, true);
  assert.deepEqual(o.warnings, [], "-it and --rm mean nothing here and say nothing");
});

Deno.test("what Kubernetes cannot honour, and junk, warn; nothing throws", () => {
  const o = parseDockerOptions(
    `--network host -v /var/run/docker.sock:/var/run/docker.sock --gpus all --frobnicate 3 ` +
      `--cpus lots --user postgres stray --memory`,
    "service x",
  );
  assert.equal(o.warnings.length, 8, o.warnings.join("\n"));
  assert.match(o.warnings[0], /service x's option --network cannot be honoured/);
  assert.match(o.warnings[1], /-v .*volumes and volumeMounts/);
  assert.match(o.warnings[3], /--frobnicate is not known/);
  assert.match(o.warnings[5], /--user postgres names a user.*runAsUser/);
  assert.match(o.warnings[7], /--memory has no value/);
  const broken = parseDockerOptions(`--health-cmd "pg_isready`, "service y");
  assert.match(broken.warnings[0], /could not be read .*unterminated double quote/);
});

Deno.test("sizes and env files read as docker reads them", () => {
  assert.equal(memoryQuantity("512m"), "512Mi");
  assert.equal(memoryQuantity("2GB"), "2Gi");
  assert.equal(memoryQuantity("1048576"), "1048576");
  assert.equal(memoryQuantity("lots"), undefined);
  assert.deepEqual(parseEnvFile("# c\nA=1\n\nB= spaced \nC\n", { C: "from runner" }), {
    A: "1",
    B: " spaced ",
    C: "from runner",
  });
});
