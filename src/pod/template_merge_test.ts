import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { parsePodTemplate, TemplateError } from "./template.ts";
import { mergePodTemplate } from "./template_merge.ts";

function pod(): V1Pod {
  return {
    metadata: { name: "p-workflow", labels: { "runner-pod": "p" }, annotations: {} },
    spec: {
      restartPolicy: "Never",
      imagePullSecrets: [{ name: "p-secret-1" }],
      containers: [
        { name: "job", image: "node:20", env: [{ name: "CI", value: "true" }], command: ["sh"] },
        { name: "redis", image: "redis:7", ports: [{ containerPort: 6379 }] },
        { name: "externals", image: "runner", command: ["sh"] },
      ],
      volumes: [{ name: "work", emptyDir: {} }],
    },
  };
}

async function merge(yaml: string, serviceNames = ["redis"]) {
  return mergePodTemplate(pod(), await parsePodTemplate(yaml, "t.yaml"), { serviceNames });
}

Deno.test("metadata is added, reserved labels win", async () => {
  const { pod: p, warnings } = await merge(
    "metadata:\n  labels:\n    team: ci\n    runner-pod: other\n  annotations:\n    a: b\n",
  );
  assert.deepEqual(p.metadata?.labels, { "runner-pod": "p", team: "ci" });
  assert.deepEqual(p.metadata?.annotations, { a: "b" });
  assert.deepEqual(warnings, [
    'Pod template t.yaml:4:17: label "runner-pod" is kubehook\'s own and was not changed.',
  ]);
});

Deno.test("spec fields replace, init containers and pull secrets append, restartPolicy stays", async () => {
  const { pod: p, warnings } = await merge(`spec:
  nodeSelector: { pool: ci }
  securityContext: { fsGroup: 1001 }
  restartPolicy: Always
  initContainers: [{ name: warm, image: busybox }]
  imagePullSecrets: [{ name: corp }]
  volumes: [{ name: cache, emptyDir: {} }]
`);
  assert.deepEqual(p.spec?.nodeSelector, { pool: "ci" });
  assert.deepEqual(p.spec?.securityContext, { fsGroup: 1001 });
  assert.equal(p.spec?.restartPolicy, "Never");
  assert.deepEqual(p.spec?.initContainers?.map((c) => c.name), ["warm"]);
  assert.deepEqual(p.spec?.imagePullSecrets, [{ name: "p-secret-1" }, { name: "corp" }]);
  assert.deepEqual(p.spec?.volumes?.map((v) => v.name), ["work", "cache"]);
  assert.match(warnings[0], /t\.yaml:4:18: restartPolicy must stay Never/);
});

Deno.test("an init container named externals merges into kubehook's externals container; others append", async () => {
  const { pod: p, warnings } = await merge(`spec:
  initContainers:
    - name: externals
      resources: { limits: { memory: 128Mi } }
      securityContext: { allowPrivilegeEscalation: false }
      env: [{ name: A, value: "1" }]
    - name: $externalz
      resources: {}
    - name: warm
      image: busybox
`);
  assert.deepEqual(p.spec?.containers[2], {
    name: "externals",
    image: "runner",
    command: ["sh"],
    resources: { limits: { memory: "128Mi" } },
    securityContext: { allowPrivilegeEscalation: false },
    env: [{ name: "A", value: "1" }],
  });
  assert.deepEqual(p.spec?.initContainers, [{ name: "warm", image: "busybox" }]);
  assert.deepEqual(warnings, [
    'Pod template t.yaml:3:5: init container "$externalz" matches none of kubehook\'s ' +
    "(externals); the entry was skipped.",
  ]);
  const only = await merge("spec:\n  initContainers:\n    - name: externals\n      args: [x]\n");
  assert.equal(only.pod.spec?.initContainers, undefined, "no empty list of init containers");
  assert.deepEqual(only.pod.spec?.containers[2].args, ["x"]);
});

Deno.test("$externals merges into kubehook's externals container like $job", async () => {
  const { pod: p, warnings } = await merge(`spec:
  containers:
    - name: $externals
      resources: { requests: { cpu: 10m } }
`);
  assert.deepEqual(p.spec?.containers[2].resources, { requests: { cpu: "10m" } });
  assert.deepEqual(warnings, []);
});

Deno.test("$job and $service merge: lists append, other fields replace, name and image ignored", async () => {
  const { pod: p, warnings } = await merge(`spec:
  containers:
    - name: $job
      image: evil:latest
      env: [{ name: X, value: "1" }]
      resources: { limits: { memory: 1Gi } }
      command: ["bash"]
    - name: $redis
      ports: [{ containerPort: 6380 }]
`);
  const [job, redis] = p.spec!.containers;
  assert.equal(job.name, "job");
  assert.equal(job.image, "node:20");
  assert.deepEqual(job.env, [{ name: "CI", value: "true" }, { name: "X", value: "1" }]);
  assert.deepEqual(job.resources, { limits: { memory: "1Gi" } });
  assert.deepEqual(job.command, ["bash"]);
  assert.deepEqual(redis.ports, [{ containerPort: 6379 }, { containerPort: 6380 }]);
  assert.deepEqual(warnings, [
    'Pod template t.yaml:3:7: "image" of $job is ignored; the workflow chooses the image ' +
    "(ACTIONS_RUNNER_IMAGE for the externals container).",
  ]);
});

Deno.test("an entry for a service the job does not have is skipped with a warning naming the known ones", async () => {
  const { pod: p, warnings } = await merge(
    "spec:\n  containers:\n    - name: $redis2\n      args: [x]\n",
  );
  assert.deepEqual(p.spec?.containers, pod().spec?.containers);
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0],
    /^Pod template t\.yaml:3:7: "\$redis2" matches no container of this job \(it has \$job, \$redis, \$externals\)/,
  );
});

Deno.test("sidecars are added; a clash or a missing image is an error at the line", async () => {
  const { pod: p } = await merge("spec:\n  containers:\n    - name: statsd\n      image: statsd\n");
  assert.deepEqual(p.spec?.containers.map((c) => c.name), ["job", "redis", "externals", "statsd"]);
  const errors: [string, RegExp][] = [
    [
      "spec:\n  containers:\n    - name: redis\n      image: x\n",
      /t\.yaml:3:7: sidecar "redis" has the name .*write "\$redis"/,
    ],
    ["spec:\n  containers:\n    - name: statsd\n", /t\.yaml:3:7: sidecar "statsd" has no image/],
    [
      "spec:\n  volumes:\n    - name: work\n      emptyDir: {}\n",
      /t\.yaml:3:7: volume "work" is already used by kubehook \(work\)/,
    ],
  ];
  for (const [yaml, message] of errors) {
    await assert.rejects(
      () => merge(yaml),
      (e: unknown) => e instanceof TemplateError && message.test(e.message),
    );
  }
});

Deno.test("the input pod is not changed", async () => {
  const original = pod();
  const template = await parsePodTemplate(
    "spec:\n  containers:\n    - name: $job\n      env: [{name: Y, value: z}]\n",
    "t",
  );
  mergePodTemplate(original, template, { serviceNames: ["redis"] });
  assert.deepEqual(original, pod());
});
