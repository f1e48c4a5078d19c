/**
 * Checks of the files users copy: the workflows and examples are valid YAML, the ARC example's
 * hook template and `examples/rbac.yaml` say what the docs say, and
 * `tests/fixtures/prepare_job.json` is an invocation kubehook accepts.
 */
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import {
  buildPermissions,
  type Permission,
  REQUIRED_PERMISSIONS,
} from "../../src/cli/permissions.ts";
import { parseInvocation } from "../../src/runner/input.ts";
import { root } from "./support.ts";

const yamlFiles = [
  ...[...Deno.readDirSync(`${root}.github/workflows`)].map((e) => `.github/workflows/${e.name}`),
  "examples/rbac.yaml",
  "examples/arc/values.yaml",
  "examples/arc/hook-template.yaml",
];

for (const file of yamlFiles) {
  Deno.test(`${file} is valid YAML`, async () => {
    const documents = parseAllDocuments(await Deno.readTextFile(`${root}${file}`));
    assert.ok(Array.isArray(documents) && documents.length > 0, `${file} holds no YAML document`);
    for (const document of documents) {
      assert.deepEqual(document.errors.map((error) => error.message), [], file);
      assert.ok(document.toJS() !== null, `${file} has an empty document`);
    }
  });
}

Deno.test("the hook template in the ARC example's ConfigMap is itself valid YAML with a $job container", async () => {
  const [configMap] = parseAllDocuments(
    await Deno.readTextFile(`${root}examples/arc/hook-template.yaml`),
  ).map((document) => document.toJS());
  const [template] = parseAllDocuments(configMap.data["job-pod.yaml"]);
  assert.deepEqual(template.errors, []);
  const names = template.toJS().spec.containers.map((c: { name: string }) => c.name);
  assert.deepEqual(names, ["$job"]);
});

Deno.test("the ARC example works as written: its namespace made, copy mode, the runner's own image, no node pinned", async () => {
  const valuesText = await Deno.readTextFile(`${root}examples/arc/values.yaml`);
  const values = parseAllDocuments(valuesText)[0].toJS();
  assert.match(valuesText, /^#\s+kubectl create namespace arc-runners$/m);
  // The chart's mode for a hook that copies the workspace (no claim, no shared volume).
  assert.equal(values.containerMode.type, "kubernetes-novolume");
  const runner = values.template.spec.containers.find((c: { name: string }) => c.name === "runner");
  const env = Object.fromEntries(
    runner.env.map((e: { name: string; value?: string }) => [e.name, e.value]),
  );
  assert.equal(env.ACTIONS_RUNNER_IMAGE, runner.image, "externals must come from the runner image");
  assert.equal(env.ACTIONS_RUNNER_CONTAINER_HOOKS, "/home/runner/k8s/hook.sh");
  const volumes = values.template.spec.volumes.map((v: { name: string }) => v.name);
  for (const mount of runner.volumeMounts) assert.ok(volumes.includes(mount.name), mount.name);
  const [configMap] = parseAllDocuments(
    await Deno.readTextFile(`${root}examples/arc/hook-template.yaml`),
  ).map((document) => document.toJS());
  assert.equal(configMap.metadata.namespace, "arc-runners");
  const template = parseAllDocuments(configMap.data["job-pod.yaml"])[0].toJS();
  assert.equal(
    template.spec.nodeSelector,
    undefined,
    "job pods pinned to nodes that may not exist",
  );
  assert.equal(template.spec.tolerations, undefined);
});

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
const ruleText = (rule: Rule) =>
  `${rule.apiGroups.join(",")}/${rule.resources.join(",")}${
    rule.resourceNames ? `[${rule.resourceNames.join(",")}]` : ""
  }: ${[...rule.verbs].sort().join(",")}`;
const declared = (permissions: readonly Permission[]) =>
  permissions.map((p) =>
    ruleText({
      apiGroups: [""],
      resources: [p.resource],
      verbs: [...p.verbs],
      ...(p.resourceNames ? { resourceNames: [...p.resourceNames] } : {}),
    })
  );

Deno.test("examples/rbac.yaml grants exactly the permissions kubehook declares", async () => {
  const text = await Deno.readTextFile(`${root}examples/rbac.yaml`);
  const parse = (yaml: string) => parseAllDocuments(yaml).map((document) => document.toJS());
  const objects = parse(text);
  assert.deepEqual(objects.map((o) => o.kind), ["ServiceAccount", "Role", "RoleBinding"]);
  const role = objects[1];
  // One source: the permissions kubehook declares (and doctor checks), verb for verb.
  assert.deepEqual(role.rules.map(ruleText), declared(REQUIRED_PERMISSIONS));
  // The commented block for Dockerfile actions, uncommented as its comment says, adds exactly
  // what builds declare.
  const uncommented = text.replace(/^ {2}# (- apiGroups| {2}\w+:)/gm, "  $1");
  assert.deepEqual(
    parse(uncommented)[1].rules.map(ruleText),
    [...declared(REQUIRED_PERMISSIONS), ...declared(buildPermissions("registry-push"))],
  );
  const binding = objects[2];
  assert.deepEqual(binding.roleRef.name, role.metadata.name);
  assert.deepEqual(binding.subjects, [{
    kind: "ServiceAccount",
    name: objects[0].metadata.name,
    namespace: objects[0].metadata.namespace,
  }]);
});

Deno.test("tests/fixtures/prepare_job.json is a prepare_job invocation kubehook accepts", async () => {
  const invocation = parseInvocation(
    await Deno.readTextFile(`${root}tests/fixtures/prepare_job.json`),
  );
  assert.equal(invocation.command, "prepare_job");
});
