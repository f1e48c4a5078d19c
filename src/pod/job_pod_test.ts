import assert from "node:assert/strict";
import { type Container, containerOf } from "../runner/input.ts";
import { type JobPodInput, renderJobPod } from "./job_pod.ts";
import { KEEP_ALIVE_COMMAND } from "./keep_alive.ts";

function container(over: Partial<Container> = {}): Container {
  return containerOf("node:20", { workingDirectory: "/__w/repo/repo", ...over });
}

function input(over: Partial<JobPodInput> = {}): JobPodInput {
  return {
    name: "arc-x-workflow",
    runnerPodName: "arc-x",
    container: container({ environmentVariables: { FOO: "a\nb", HOME: "/github/home" } }),
    services: [container({ image: "redis:7", workingDirectory: null, portMappings: ["6379"] })],
    serviceNames: ["redis"],
    imagePullSecrets: [],
    runnerImage: "ghcr.io/actions/actions-runner:2.330.0",
    workspace: { mode: "copy" },
    workspacePath: "repo/repo",
    ...over,
  };
}

Deno.test("job pod: metadata, restart policy, no owner without uid", () => {
  const pod = renderJobPod(input());
  assert.equal(pod.metadata?.name, "arc-x-workflow");
  assert.deepEqual(pod.metadata?.labels, {
    "runner-pod": "arc-x",
    "app.kubernetes.io/managed-by": "kubehook",
    "kubehook.io/job": "arc-x-workflow",
  });
  assert.equal(pod.metadata?.ownerReferences, undefined);
  assert.equal(pod.spec?.restartPolicy, "Never");
  assert.equal(pod.spec?.securityContext, undefined);
  assert.equal(pod.spec?.imagePullSecrets, undefined);
  const owned = renderJobPod(input({ runnerPodUid: "uid-1", imagePullSecrets: ["s1", "s2"] }));
  assert.deepEqual(owned.metadata?.ownerReferences, [{
    apiVersion: "v1",
    kind: "Pod",
    name: "arc-x",
    uid: "uid-1",
  }]);
  assert.deepEqual(owned.spec?.imagePullSecrets, [{ name: "s1" }, { name: "s2" }]);
});

Deno.test("job container: keep-alive, env, working dir, mounts", () => {
  const job = renderJobPod(input()).spec!.containers[0];
  assert.equal(job.name, "job");
  assert.deepEqual(job.command, KEEP_ALIVE_COMMAND);
  assert.equal(job.args, undefined);
  assert.equal(job.workingDir, undefined, "the runtime must not create it before the copy");
  assert.deepEqual(job.env, [
    { name: "HOME", value: "/github/home" },
    { name: "CI", value: "true" },
    { name: "GITHUB_ACTIONS", value: "true" },
    { name: "FOO", value: "a\nb" },
  ]);
  assert.deepEqual(job.volumeMounts, [
    { name: "work", mountPath: "/__w" },
    { name: "externals", mountPath: "/__e", readOnly: true },
    { name: "runner-temp", mountPath: "/__w/_temp" },
    { name: "github-home", mountPath: "/__w/_temp/_github_home" },
    { name: "github-home", mountPath: "/github/home" },
    { name: "github-workflow", mountPath: "/__w/_temp/_github_workflow" },
    { name: "github-workflow", mountPath: "/github/workflow" },
    { name: "file-commands", mountPath: "/__w/_temp/_runner_file_commands" },
    { name: "github-workspace", mountPath: "/__w/repo/repo" },
  ]);
  const custom = renderJobPod(input({
    container: container({ entryPoint: "/bin/app", entryPointArgs: ["--serve", "x"] }),
  })).spec!.containers[0];
  assert.deepEqual([custom.command, custom.args], [["/bin/app"], ["--serve", "x"]]);
  assert.equal(custom.workingDir, "/__w/repo/repo", "a workflow's entrypoint starts there");
});

Deno.test("keep-alive exits promptly on SIGTERM with only sh", async () => {
  const child = new Deno.Command(KEEP_ALIVE_COMMAND[0], {
    args: KEEP_ALIVE_COMMAND.slice(1),
    stdout: "null",
    stderr: "null",
  }).spawn();
  // The shell installs its trap before it starts the first `sleep`: wait for that child to exist.
  const children = `/proc/${child.pid}/task/${child.pid}/children`;
  while ((await Deno.readTextFile(children)).trim() === "") {
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill("SIGTERM");
  const status = await child.status;
  assert.equal(status.code, 0);
});

Deno.test("services keep their image command and get container ports", () => {
  const pod = renderJobPod(input({
    services: [
      container({ image: "redis:7", workingDirectory: null, portMappings: ["6379"] }),
      container({
        image: "nginx",
        portMappings: ["8080:80", "53/udp"],
        entryPointArgs: ["-g", "daemon off;"],
      }),
    ],
    serviceNames: ["redis", "nginx"],
  }));
  const [, redis, nginx] = pod.spec!.containers;
  assert.deepEqual(redis, {
    name: "redis",
    image: "redis:7",
    env: [{ name: "CI", value: "true" }, { name: "GITHUB_ACTIONS", value: "true" }],
    ports: [{ containerPort: 6379, protocol: "TCP" }],
  });
  assert.deepEqual(pod.spec!.hostAliases, [{ ip: "127.0.0.1", hostnames: ["redis", "nginx"] }]);
  assert.equal(nginx.command, undefined);
  assert.deepEqual(nginx.args, ["-g", "daemon off;"]);
  assert.deepEqual(nginx.ports, [{ containerPort: 80, protocol: "TCP", hostPort: 8080 }, {
    containerPort: 53,
    protocol: "UDP",
  }]);
  assert.equal(nginx.volumeMounts, undefined);
});

Deno.test("externals come from the runner image by a container after the job's own", () => {
  const spec = renderJobPod(input()).spec!;
  assert.equal(spec.initContainers, undefined, "an init container delays the pod's start");
  assert.deepEqual(spec.containers.map((c) => c.name), ["job", "redis", "externals"]);
  const externals = spec.containers[2];
  assert.equal(externals.image, "ghcr.io/actions/actions-runner:2.330.0");
  assert.deepEqual(externals.command?.slice(-2), ["/home/runner/externals", "/mnt/externals"]);
  assert.deepEqual(externals.volumeMounts, [{ name: "externals", mountPath: "/mnt/externals" }]);
  assert.deepEqual(spec.volumes, [
    { name: "work", emptyDir: {} },
    { name: "externals", emptyDir: {} },
    { name: "runner-temp", emptyDir: {} },
    { name: "github-home", emptyDir: {} },
    { name: "github-workflow", emptyDir: {} },
    { name: "file-commands", emptyDir: {} },
    { name: "github-workspace", emptyDir: {} },
  ]);
});

Deno.test("a job without a job container is services only", () => {
  const spec = renderJobPod(input({ container: null })).spec!;
  assert.deepEqual(spec.containers.map((c) => c.name), ["redis"]);
  assert.equal(spec.initContainers, undefined);
  assert.equal(spec.volumes, undefined);
  assert.throws(
    () => renderJobPod(input({ container: null, services: [], serviceNames: [] })),
    /neither/,
  );
});

Deno.test("volume mode mounts the claim and pins the runner's node unless the scheduler decides", () => {
  const workspace = {
    mode: "volume" as const,
    claimName: "arc-x-work",
    runnerNodeName: "node-1",
    useKubeScheduler: false,
  };
  const spec = renderJobPod(input({ workspace })).spec!;
  assert.deepEqual(spec.volumes, [
    { name: "work", persistentVolumeClaim: { claimName: "arc-x-work" } },
    { name: "externals", emptyDir: {} },
  ]);
  assert.deepEqual(spec.containers[0].volumeMounts, [
    { name: "work", mountPath: "/__w" },
    { name: "externals", mountPath: "/__e", readOnly: true },
    { name: "work", mountPath: "/github/home", subPath: "_temp/_github_home" },
    { name: "work", mountPath: "/github/workflow", subPath: "_temp/_github_workflow" },
  ]);
  assert.deepEqual(
    spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms,
    [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["node-1"] }] }],
  );
  assert.equal(
    renderJobPod(input({ workspace: { ...workspace, useKubeScheduler: true } })).spec!.affinity,
    undefined,
  );
  assert.throws(
    () => renderJobPod(input({ workspace: { ...workspace, runnerNodeName: undefined } })),
    /runner pod's node.*arc-x-work.*ACTIONS_RUNNER_USE_KUBE_SCHEDULER=true/,
  );
});

Deno.test("a Dockerfile container cannot be a job pod container", () => {
  assert.throws(
    () => renderJobPod(input({ container: container({ image: null }) })),
    /job container has no image/,
  );
});
