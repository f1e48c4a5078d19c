import assert from "node:assert/strict";
import { loadPodTemplate, parsePodTemplate, TemplateError } from "./template.ts";

const TEMPLATE = `metadata:
  labels:
    team: ci
  annotations:
    note: hi
spec:
  nodeSelector:
    pool: ci
  volumes:
    - name: cache
      emptyDir: {}
  containers:
    - name: $job
      env:
        - { name: A, value: "1" }
    - name: sidecar
      image: busybox
`;

Deno.test("a template parses with positions of each piece", async () => {
  const t = await parsePodTemplate(TEMPLATE, "t.yaml");
  assert.deepEqual(t.labels, [{ key: "team", value: "ci", at: "t.yaml:3:11" }]);
  assert.deepEqual(t.annotations, { note: "hi" });
  assert.deepEqual(t.spec, { nodeSelector: { pool: "ci" } });
  assert.equal(t.specAt.nodeSelector, "t.yaml:8:5");
  assert.deepEqual(t.volumes.map((v) => [v.value.name, v.at]), [["cache", "t.yaml:10:7"]]);
  assert.deepEqual(t.containers.map((c) => [c.value.name, c.at]), [["$job", "t.yaml:13:7"], [
    "sidecar",
    "t.yaml:16:7",
  ]]);
});

Deno.test("fields a template cannot set are ignored with a warning", async () => {
  const t = await parsePodTemplate("metadata:\n  name: x\nspecs: {}\n", "w.yaml");
  assert.deepEqual(t.warnings, [
    'Pod template w.yaml:3:8: unknown top-level field "specs" was ignored; a template has only `metadata` and `spec`.',
    "Pod template w.yaml:2:9: metadata.name was ignored; a template only adds labels and annotations.",
  ]);
});

Deno.test("an empty template changes nothing", async () => {
  const t = await parsePodTemplate("# nothing here\n", "empty.yaml");
  assert.deepEqual([t.labels, t.annotations, t.spec, t.containers, t.volumes], [
    [],
    {},
    {},
    [],
    [],
  ]);
});

Deno.test("errors point at the file and line and say the fix", async () => {
  const cases: [string, RegExp][] = [
    [
      "spec:\n  containers: [\n",
      /^Pod template bad\.yaml:2:15 is not valid YAML: .*end with a \] \(noticed at 3:1\)\. Fix the syntax there\.$/,
    ],
    // An unclosed list is shown where it opens, not on the next line, and without the parser's
    // own "at line L, column C:" tail.
    [
      "spec:\n  containers:\n    - name: $job\n      image: [unclosed\n  other: 1\n",
      /^Pod template bad\.yaml:4:14 is not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a \] \(noticed at 5:3\)\. Fix the syntax there\.$/,
    ],
    [
      "spec:\n  a: 'open\n  b: 2\n",
      /^Pod template bad\.yaml:2:6 is not valid YAML: Missing closing 'quote \(noticed at 4:1\)\./,
    ],
    ["spec:\n  a: 1\n  a: 2\n", /bad\.yaml:3:3 is not valid YAML: Map keys must be unique\. Fix/],
    ["- a\n", /bad\.yaml:1:1: the document must be a PodTemplateSpec/],
    [
      "metadata:\n  labels:\n    on: true\n",
      /bad\.yaml:3:9: metadata\.labels\.on must be a string; quote the value\. Fix the template\./,
    ],
    ["spec:\n  containers:\n    - image: x\n", /bad\.yaml:3:7: a container needs a `name`/],
    [
      "spec:\n  containers:\n    - name: $job\n      env: {A: 1}\n",
      /bad\.yaml:4:12: env must be a list/,
    ],
    ["spec:\n  containers: {}\n", /bad\.yaml:2:15: spec\.containers must be a list/],
    ["spec:\n  volumes:\n    - emptyDir: {}\n", /bad\.yaml:3:7: a volume needs a `name`/],
  ];
  for (const [text, message] of cases) {
    await assert.rejects(() => parsePodTemplate(text, "bad.yaml"), (e: unknown) => {
      assert.ok(e instanceof TemplateError, String(e));
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("an unreadable template file is named with the variable", async () => {
  await assert.rejects(
    () => loadPodTemplate("/nonexistent/template.yaml"),
    /Cannot read the pod template \/nonexistent\/template\.yaml \(ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE\)/,
  );
});

Deno.test("values the API server would refuse are all named at once, each with its place", async () => {
  const text = "spec:\n  tolerations:\n    key: a\n  containers:\n    - name: $job\n" +
    '      ports:\n        - containerPort: "eighty"\n      securityContext:\n' +
    '        runAsUser: "1001"\n';
  await assert.rejects(() => parsePodTemplate(text, "t.yaml"), (e: unknown) => {
    assert.ok(e instanceof TemplateError, String(e));
    assert.equal(
      e.message,
      "Pod template: 3 values the API server would refuse:\n" +
        "  t.yaml:3:5: spec.tolerations must be a list of Toleration, not a mapping\n" +
        "  t.yaml:7:26: spec.containers[0].ports[0].containerPort must be an integer, not a string\n" +
        "  t.yaml:9:20: spec.containers[0].securityContext.runAsUser must be an integer, not a string\n" +
        "Fix the template.",
    );
    return true;
  });
});

Deno.test("what Kubernetes decodes is accepted; a field it does not know is a warning", async () => {
  const t = await parsePodTemplate(
    "spec:\n  nodeSelecter: {pool: ci}\n  containers:\n    - name: $job\n" +
      "      resources: {limits: {cpu: 1, memory: 2Gi}, requests: {cpu: 500m}}\n" +
      "      readinessProbe: {httpGet: {port: http, path: /}, periodSeconds: 5}\n" +
      "      livenessProbe: {tcpSocket: {port: 8080}}\n  volumes:\n    - name: v\n" +
      "      emptyDir: {sizeLimit: 1Gi, medium: Memory}\n",
    "t.yaml",
  );
  assert.deepEqual(t.warnings, [
    "Pod template t.yaml:2:17: spec.nodeSelecter is not a field of PodSpec in Kubernetes, which " +
    "drops it; check its spelling and place.",
  ]);
});
