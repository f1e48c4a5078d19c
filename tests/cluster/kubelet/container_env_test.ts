import assert from "node:assert/strict";
import type { V1Container, V1Pod, V1Secret } from "@kubernetes/client-node";
import {
  containerArgv,
  ContainerConfigError,
  expand,
  processEnv,
  specEnv,
} from "./container_env.ts";

const image = {
  entrypoint: ["/entry"],
  cmd: ["run"],
  env: ["PATH=/bin", "A=image"],
  workingDir: "",
  user: "",
};

Deno.test("expand follows Kubernetes: escapes, unknown and unterminated references", () => {
  const vars = new Map([["A", "1"], ["B", "two"]]);
  assert.equal(expand("$(A)-$(B)", vars), "1-two");
  assert.equal(expand("$$(A) $(C) $x $", vars), "$(A) $(C) $x $");
  assert.equal(expand("pre$(A", vars), "pre$(A");
});

Deno.test("env: envFrom then env in order, secrets decoded, later references see earlier names", () => {
  const secrets: Record<string, V1Secret> = {
    creds: { data: { user: btoa("robot"), "bad key": btoa("x") } },
  };
  const pod: V1Pod = {
    metadata: { name: "p", namespace: "ns", labels: { app: "web" } },
    spec: { containers: [] },
  };
  const container: V1Container = {
    name: "c",
    envFrom: [{ secretRef: { name: "creds" }, prefix: "S_" }],
    env: [
      { name: "GREETING", value: "hi $(S_user) in $(NS)" },
      { name: "NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: "AGAIN", value: "$(NS)/$(GREETING)" },
      { name: "APP", valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
      { name: "OPT", valueFrom: { secretKeyRef: { name: "absent", key: "k", optional: true } } },
    ],
  };
  const vars = specEnv(pod, container, {
    secret: (n) => secrets[n],
    podIP: "10.244.0.2",
    hostIP: "10.0.0.1",
  });
  assert.deepEqual([...vars], [
    ["S_user", "robot"],
    ["GREETING", "hi robot in $(NS)"],
    ["NS", "ns"],
    ["AGAIN", "ns/hi robot in $(NS)"],
    ["APP", "web"],
  ]);
  const env = processEnv(image, vars, { hostname: "p", home: "/root" });
  assert.equal(env.get("PATH"), "/bin");
  assert.equal(env.get("HOSTNAME"), "p");
  assert.equal(env.get("A"), "image");
});

Deno.test("missing secrets and keys are config errors naming them", () => {
  const pod: V1Pod = { metadata: { namespace: "ns" } };
  const ref = (name: string) => ({ name: "X", valueFrom: { secretKeyRef: { name, key: "k" } } });
  const sources = {
    secret: (n: string) => (n === "s" ? { data: {} } : undefined),
    podIP: "",
    hostIP: "",
  };
  assert.throws(
    () => specEnv(pod, { name: "c", env: [ref("gone")] }, sources),
    new ContainerConfigError('secret "gone" not found'),
  );
  assert.throws(
    () => specEnv(pod, { name: "c", env: [ref("s")] }, sources),
    /couldn't find key k in Secret ns\/s/,
  );
});

Deno.test("command and args override entrypoint and cmd as Kubernetes specifies", () => {
  const vars = new Map([["N", "3"]]);
  assert.deepEqual(containerArgv({ name: "c" }, image, vars), ["/entry", "run"]);
  assert.deepEqual(containerArgv({ name: "c", args: ["x$(N)"] }, image, vars), ["/entry", "x3"]);
  assert.deepEqual(containerArgv({ name: "c", command: ["sh"] }, image, vars), ["sh"]);
  assert.deepEqual(
    containerArgv({ name: "c", command: ["sh"], args: ["-c", "$(N)"] }, image, vars),
    ["sh", "-c", "3"],
  );
  assert.throws(
    () => containerArgv({ name: "c" }, { ...image, entrypoint: [], cmd: [] }, vars),
    ContainerConfigError,
  );
});
