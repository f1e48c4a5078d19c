/**
 * `kubehook render` as a user runs it: a prepare_job input (tests/fixtures/prepare_job.json: a
 * job container, a redis service and a private postgres service) rendered to YAML without a
 * cluster, with and without a pod template, and the errors for a broken template and bad input.
 */
import assert from "node:assert/strict";
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { REPO_ROOT, runKubehook } from "./cli_process.ts";

/** The volumes of the directories container actions share with the job container. */
const ACTION_VOLUMES = [
  "runner-temp",
  "github-home",
  "github-workflow",
  "file-commands",
  "github-workspace",
];

const INPUT = `${REPO_ROOT}tests/fixtures/prepare_job.json`;
const TEMPLATE = `${REPO_ROOT}tests/cli/fixtures/template.yaml`;
const BROKEN = `${REPO_ROOT}tests/cli/fixtures/broken_template.yaml`;
/** The registry password in the fixture: it must never be printed. */
const PASSWORD = "fixture-registry-password";

/** Runs render and returns the YAML documents it printed, after checking it succeeded. */
async function renderObjects(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ objects: (V1Pod | V1Secret)[]; stdout: string; stderr: string }> {
  const result = await runKubehook(["render", ...args], env);
  assert.equal(result.code, 0, `render failed: ${result.stderr}`);
  const objects = parseAllDocuments(result.stdout).map((doc) => {
    assert.deepEqual(doc.errors, [], "render printed invalid YAML");
    return doc.toJS();
  }).filter((o) => o !== null);
  return { objects, stdout: result.stdout, stderr: result.stderr };
}

function podOf(objects: (V1Pod | V1Secret)[]): V1Pod {
  const pods = objects.filter((o) => o.kind === "Pod") as V1Pod[];
  assert.equal(pods.length, 1, "render prints exactly one pod");
  return pods[0];
}

Deno.test("render: prepare_job without a template prints the secret, then the job pod", async () => {
  const { objects, stdout } = await renderObjects(["--input", INPUT]);
  assert.deepEqual(objects.map((o) => o.kind), ["Secret", "Pod"], "creation order");
  const secret = objects[0] as V1Secret;
  assert.equal(secret.type, "kubernetes.io/dockerconfigjson");
  assert.deepEqual(secret.data, { ".dockerconfigjson": "REDACTED" });
  assert.ok(!stdout.includes(PASSWORD), "the registry password must not be printed");
  assert.ok(!stdout.includes(btoa(`octocat:${PASSWORD}`)), "nor its base64 form");

  const pod = podOf(objects);
  // ACTIONS_RUNNER_POD_NAME is unset: render assumes "runner".
  assert.equal(pod.metadata?.name, "runner-workflow");
  assert.deepEqual(pod.metadata?.labels, {
    "runner-pod": "runner",
    "app.kubernetes.io/managed-by": "kubehook",
    "kubehook.io/job": "runner-workflow",
  });
  assert.equal(pod.metadata?.ownerReferences, undefined, "no uid without a cluster");
  const containers = pod.spec!.containers;
  assert.deepEqual(containers.map((c) => c.name), ["job", "redis", "ci-postgres", "externals"]);
  assert.deepEqual(containers.map((c) => c.image), [
    "node:20-bookworm-slim",
    "redis:7-alpine",
    "ghcr.io/octo-org/ci-postgres:16",
    "ghcr.io/actions/actions-runner:latest",
  ]);
  const job = containers[0];
  assert.equal(job.workingDir, undefined, "steps cd themselves; the keep-alive needs none");
  assert.ok(job.env?.some((e) => e.name === "NODE_ENV" && e.value === "test"));
  assert.equal(pod.spec!.initContainers, undefined);
  assert.deepEqual(pod.spec!.volumes?.map((v) => v.name), ["work", "externals", ...ACTION_VOLUMES]);
  assert.ok(pod.spec!.volumes?.[0].emptyDir, "copy mode: work is an emptyDir");
  assert.deepEqual(pod.spec!.imagePullSecrets, [{ name: secret.metadata!.name }]);
  assert.match(secret.metadata!.name!, /^runner-secret-[a-z0-9]{8}$/);
});

Deno.test("render: --template merges the template; unknown service entries warn", async () => {
  const { objects, stderr } = await renderObjects(["--input", INPUT, "--template", TEMPLATE], {
    ACTIONS_RUNNER_POD_NAME: "arc-runner-x7k2p",
    // --template wins over the variable (this file does not exist).
    ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE: "/nonexistent/template.yaml",
  });
  const pod = podOf(objects);
  assert.equal(pod.metadata?.name, "arc-runner-x7k2p-workflow");
  assert.equal(pod.metadata?.labels?.team, "platform");
  assert.equal(pod.metadata?.labels?.["runner-pod"], "arc-runner-x7k2p");
  assert.deepEqual(pod.spec!.nodeSelector, { "kubernetes.io/arch": "amd64" });
  const containers = pod.spec!.containers;
  assert.deepEqual(containers.map((c) => c.name), [
    "job",
    "redis",
    "ci-postgres",
    "externals",
    "statsd",
  ]);
  const [job, redis] = containers;
  assert.deepEqual(job.env?.at(-1), { name: "FROM_TEMPLATE", value: "yes" });
  assert.ok(job.env?.some((e) => e.name === "NODE_ENV"), "template env is appended, not replacing");
  assert.deepEqual(job.volumeMounts?.at(-1), { name: "cache", mountPath: "/cache" });
  assert.deepEqual(redis.resources, { limits: { memory: "256Mi" } });
  // The workflow's options (the fixture's health check) are in the pod too.
  assert.deepEqual(redis.readinessProbe, {
    exec: { command: ["/bin/sh", "-c", "redis-cli ping"] },
    periodSeconds: 10,
    timeoutSeconds: 30,
    failureThreshold: 3,
  });
  assert.deepEqual(pod.spec!.volumes?.map((v) => v.name), [
    "work",
    "externals",
    ...ACTION_VOLUMES,
    "cache",
  ]);
  assert.match(stderr, /template\.yaml:22:7: "\$mysql" matches no container/);
});

Deno.test("render: options apply under the caps; the template wins where both set a field", async () => {
  const input = JSON.parse(await Deno.readTextFile(INPUT));
  input.args.services[0].createOptions = "--cpus 4 --memory 1g --network ci -e MODE=cache";
  input.args.container.createOptions = "--user 1001 --shm-size 256m --frobnicate 3";
  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(file, JSON.stringify(input));
    const { objects, stderr } = await renderObjects(["--input", file, "--template", TEMPLATE], {
      ACTIONS_RUNNER_POD_NAME: "arc-runner-x7k2p",
      KUBEHOOK_MAX_CPU: "2",
    });
    const [job, redis] = podOf(objects).spec!.containers;
    assert.equal(job.securityContext?.runAsUser, 1001);
    assert.deepEqual(job.volumeMounts?.find((m) => m.mountPath === "/dev/shm"), {
      name: "shm-job",
      mountPath: "/dev/shm",
    });
    // The template's resources replace what the options asked for.
    assert.deepEqual(redis.resources, { limits: { memory: "256Mi" } });
    assert.ok(redis.env?.some((e) => e.name === "MODE" && e.value === "cache"));
    assert.match(
      stderr,
      /warning: The service redis's options ask for cpu 4, more than KUBEHOOK_MAX_CPU=2/,
    );
    assert.match(stderr, /warning: The service redis's option --network cannot be honoured/);
    assert.match(
      stderr,
      /warning: The job container's option --frobnicate is not known to kubehook/,
    );
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("render: the template variable is used when --template is not given", async () => {
  const { objects } = await renderObjects(["-i", INPUT], {
    ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE: TEMPLATE,
  });
  assert.ok(podOf(objects).spec!.containers.some((c) => c.name === "statsd"));
});

Deno.test("render: a broken template fails and names file:line", async () => {
  const result = await runKubehook(["render", "--input", INPUT, "--template", BROKEN], {});
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "", "nothing is printed when the pod cannot be rendered");
  assert.match(result.stderr, /broken_template\.yaml:8:9: env must be a list/);
});

Deno.test("render: a --template that is not there is blamed on --template", async () => {
  const missing = `${REPO_ROOT}tests/cli/fixtures/no-such-template.yaml`;
  const result = await runKubehook(["render", "--input", INPUT, "--template", missing], {});
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`--template ${missing} cannot be read: No such file`));
  assert.doesNotMatch(result.stderr, /ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE/);
});

Deno.test("render: bad input names the file and the JSON field", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kubehook-render-" });
  try {
    const invocation = JSON.parse(await Deno.readTextFile(INPUT));
    invocation.args.services[0].image = 7;
    await Deno.writeTextFile(`${dir}/bad.json`, JSON.stringify(invocation));
    const bad = await runKubehook(["render", "--input", `${dir}/bad.json`], {});
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /bad\.json: .*field "args\.services\[0\]\.image" must be a string/);

    await Deno.writeTextFile(`${dir}/truncated.json`, '{"command": "prepare_job",');
    const truncated = await runKubehook(["render", "--input", `${dir}/truncated.json`], {});
    assert.equal(truncated.code, 1);
    assert.match(truncated.stderr, /truncated\.json is not valid JSON/);

    const missing = await runKubehook(["render"], {});
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--input FILE is required/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const STEP_INPUT = `${REPO_ROOT}tests/fixtures/run_container_step.json`;

Deno.test("render: a container step is the job pod's ephemeral container, or a pod of its own", async () => {
  const { objects, stdout } = await renderObjects(["--input", STEP_INPUT]);
  assert.match(stdout, /runs as an ephemeral container of the job pod "runner-workflow"/);
  assert.ok(!stdout.includes("fixture-step-token"), "the step's secret environment is printed");
  const [secret, patch, pod] = objects as unknown as [V1Secret, V1Pod, V1Pod];
  assert.equal(secret.type, "Opaque");
  assert.equal(secret.data?.INPUT_TOKEN, "REDACTED");
  const [container] = patch.spec!.ephemeralContainers!;
  assert.deepEqual(container.args, ["--config lint.yml", ""]);
  assert.equal(container.command, undefined, "the image's ENTRYPOINT stays");
  assert.equal(container.targetContainerName, "job");
  assert.deepEqual(container.envFrom, [{ secretRef: { name: secret.metadata!.name } }]);
  assert.equal(pod.kind, "Pod", "the fallback without permission for ephemeral containers");
  assert.deepEqual(pod.spec!.containers.map((c) => c.name), ["step", "kubehook"]);

  const dir = await Deno.makeTempDir({ prefix: "kubehook-render-" });
  try {
    const invocation = JSON.parse(await Deno.readTextFile(STEP_INPUT));
    invocation.state = null;
    await Deno.writeTextFile(`${dir}/alone.json`, JSON.stringify(invocation));
    const alone = await renderObjects(["--input", `${dir}/alone.json`]);
    assert.match(alone.stdout, /a pod of its own: the job has no job container/);
    assert.deepEqual(alone.objects.map((o) => o.kind), ["Secret", "Pod"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("render: a Dockerfile action is its builder pod, then the step pod that pulls the build", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kubehook-render-" });
  try {
    const action = `${dir}/hello`;
    await Deno.mkdir(action);
    await Deno.writeTextFile(`${action}/Dockerfile`, "FROM busybox\nRUN echo hi > /hi\n");
    const invocation = JSON.parse(await Deno.readTextFile(STEP_INPUT));
    invocation.args = { ...invocation.args, image: null, dockerfile: `${action}/Dockerfile` };
    await Deno.writeTextFile(`${dir}/build.json`, JSON.stringify(invocation));
    const args = ["--input", `${dir}/build.json`];

    const missing = await runKubehook(["render", ...args], {});
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /ACTIONS_RUNNER_CONTAINER_HOOKS_K8S_REGISTRY_HOST/);
    assert.match(missing.stderr, /ACTIONS_RUNNER_CONTAINER_HOOKS_K8S_REGISTRY_SECRET_NAME/);
    assert.match(missing.stderr, /README section "Dockerfile actions"/);

    const env = {
      ACTIONS_RUNNER_CONTAINER_HOOKS_K8S_REGISTRY_HOST: "registry.ci:5000/team",
      ACTIONS_RUNNER_CONTAINER_HOOKS_K8S_REGISTRY_HOST_PULL: "localhost:30500/team",
      ACTIONS_RUNNER_CONTAINER_HOOKS_K8S_REGISTRY_SECRET_NAME: "regcred",
      KUBEHOOK_REGISTRY_INSECURE: "true",
    };
    const { objects, stdout } = await renderObjects(args, env);
    assert.match(stdout, /a pod of its own: its image is private/);
    const [builder, , stepPod] = objects as V1Pod[];
    const [kaniko] = builder.spec!.containers;
    const destination = kaniko.args!.find((a) => a.startsWith("--destination="))!;
    assert.match(destination, /^--destination=registry\.ci:5000\/team\/hello:ctx-[0-9a-f]{64}$/);
    assert.deepEqual(kaniko.args!.filter((a) => !a.startsWith("--destination=")), [
      "--dockerfile=Dockerfile",
      "--context=tar://stdin",
      "--insecure",
      "--insecure-registry=registry.ci:5000",
    ]);
    assert.equal(kaniko.stdin, true);
    assert.deepEqual(builder.spec!.volumes![0].secret?.secretName, "regcred");
    const step = stepPod.spec!.containers.find((c) => c.name === "step")!;
    assert.equal(
      step.image,
      destination.replace(/^--destination=registry\.ci:5000/, "localhost:30500"),
    );
    assert.deepEqual(stepPod.spec!.imagePullSecrets, [{ name: "regcred" }]);
    // The tag follows the files: the same context renders the same tag, another one another.
    assert.equal(
      (await renderObjects(args, env)).stdout.match(/ctx-[0-9a-f]+/)![0],
      destination.slice(-68),
    );
    await Deno.writeTextFile(`${action}/entry.sh`, "echo\n");
    assert.notEqual(
      (await renderObjects(args, env)).stdout.match(/ctx-[0-9a-f]+/)![0],
      destination.slice(-68),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
