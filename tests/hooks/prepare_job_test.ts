/**
 * prepare_job and cleanup_job against the local cluster: jobs with and without a job container,
 * services on localhost, private registries with and without credentials, a wrong image failing
 * fast with the reason, and a prepare_job that fails half-way leaving nothing behind.
 */
import assert from "node:assert/strict";
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import type { Container } from "../../src/runner/input.ts";
import { jobContainer, serviceContainer } from "../support/runner_sim.ts";
import { assertHookFailed, assertHookOk, HookCluster, logOf, NAMESPACE } from "./hook_cluster.ts";

/** The local cluster's private registry and the only credentials it accepts. */
const PRIVATE_JOB_IMAGE = "registry.local/private/tools:1.0";
const PRIVATE_SERVICE_IMAGE = "registry.local/private/cache:2.1";
/** A private image no earlier case pulled: a node that holds an image runs it without
 * credentials (IfNotPresent), so only a fresh one shows the refusal. */
const UNPULLED_PRIVATE_IMAGE = "registry.local/private/app:1.0";
const CREDENTIALS = { username: "robot", password: "s3cret", serverUrl: "registry.local" };

/** A timeout no failing case may reach: failing fast means failing with the pull error, not with
 * prepare_job's "did not start within" (the case would take this long to show that). */
const PREPARE_TIMEOUT_SECONDS = "600";
const TIMED_OUT = /did not start within/;

interface PrepareResponse {
  isAlpine: boolean;
  context?: { container?: unknown; services?: { ports: Record<string, string> }[] };
}

const nginx = (over: Partial<Container> = {}) =>
  serviceContainer("nginx:1.27", { portMappings: ["80"], ...over });

Deno.test("prepare_job and cleanup_job", async (t) => {
  await using hc = await HookCluster.start();

  await hc.job(t, "services only, no job container", async ({ sim, runnerPod }) => {
    const prepared = await sim.prepareJob({ container: null, services: [nginx()] });
    assertHookOk(prepared, "prepare_job");
    const response = prepared.response as PrepareResponse;
    assert.deepEqual(response.context?.services?.map((s) => s.ports), [{ "80": "80" }]);
    assert.ok(!response.context?.container, "a job without a container reports none");
    const pods = await hc.labelled<V1Pod>("pods", runnerPod);
    assert.deepEqual(
      pods.map((p) => p.spec?.containers.map((c) => c.image)),
      [["nginx:1.27"]],
      "one pod holding just the service",
    );
    assertHookOk(await sim.cleanupJob(), "cleanup_job");
  });

  await hc.job(
    t,
    "alpine job container reaches an nginx service on localhost:80",
    async ({ sim }) => {
      const prepared = await sim.prepareJob({
        container: jobContainer("alpine:3.20"),
        services: [nginx()],
      });
      assertHookOk(prepared, "prepare_job");
      const response = prepared.response as PrepareResponse;
      assert.equal(response.isAlpine, true);
      assert.deepEqual(response.context?.services?.map((s) => s.ports), [{ "80": "80" }]);
      const step = await sim.scriptStep("wget -qO- http://localhost:80\n");
      assertHookOk(step, "the step");
      assert.match(step.stdout, /Welcome to nginx!/);
      assertHookOk(await sim.cleanupJob(), "cleanup_job");
    },
  );

  await hc.job(
    t,
    "private registry images with credentials, job and service",
    async ({ sim, runnerPod }) => {
      const prepared = await sim.prepareJob({
        container: jobContainer(PRIVATE_JOB_IMAGE, { registry: CREDENTIALS }),
        services: [
          serviceContainer(PRIVATE_SERVICE_IMAGE, {
            registry: CREDENTIALS,
            // The image's own command is a shell that exits at once without a terminal.
            entryPoint: "sleep",
            entryPointArgs: ["3600"],
          }),
        ],
      });
      assertHookOk(prepared, "prepare_job");
      const secrets = await hc.labelled<V1Secret>("secrets", runnerPod);
      assert.deepEqual(
        secrets.map((s) => s.type),
        ["kubernetes.io/dockerconfigjson", "kubernetes.io/dockerconfigjson"],
        "one pull secret for the job container and one for the service",
      );
      const [pod] = await hc.labelled<V1Pod>("pods", runnerPod);
      assert.deepEqual(
        pod.spec?.imagePullSecrets?.map((r) => r.name).sort(),
        secrets.map((s) => s.metadata?.name).sort(),
      );
      assertPasswordOnlyMasked(logOf(prepared));
      const step = await sim.scriptStep("echo private job container runs\n");
      assertHookOk(step, "the step");
      assert.match(step.stdout, /private job container runs/);
      assertHookOk(await sim.cleanupJob(), "cleanup_job");
    },
  );

  const externalsTemplate = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(
    externalsTemplate,
    "spec:\n  initContainers:\n    - name: externals\n" +
      "      resources: { limits: { cpu: 200m, memory: 128Mi } }\n",
  );
  await hc.job(
    t,
    "a template's externals init container, as written for earlier versions, merges into kubehook's externals container",
    async ({ sim, runnerPod }) => {
      const prepared = await sim.prepareJob({
        container: jobContainer("busybox:1.36"),
        services: [],
      });
      assertHookOk(prepared, "prepare_job");
      const [pod] = await hc.labelled<V1Pod>("pods", runnerPod);
      assert.equal(pod.spec?.initContainers, undefined);
      const externals = pod.spec?.containers.find((c) => c.name === "externals");
      assert.deepEqual(externals?.resources?.limits, { cpu: "200m", memory: "128Mi" });
      const step = await sim.scriptStep("ls /__e/node20/bin\n");
      assertHookOk(step, "a step after prepare_job");
      assert.match(step.stdout, /^node$/m, "the externals are complete when prepare_job ends");
      assertHookOk(await sim.cleanupJob(), "cleanup_job");
    },
    { ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE: externalsTemplate },
  );
  await Deno.remove(externalsTemplate);

  await hc.job(
    t,
    "a private image without credentials fails fast with the reason",
    async ({ sim }) => {
      const prepared = await sim.prepareJob({
        container: jobContainer(UNPULLED_PRIVATE_IMAGE),
        services: [],
      });
      const log = assertHookFailed(prepared, "prepare_job");
      assert.doesNotMatch(log, TIMED_OUT, "prepare_job waited for its timeout");
      assert.ok(log.includes(UNPULLED_PRIVATE_IMAGE), `the image is not named:\n${log}`);
      assert.match(log, /pull access denied|unauthorized|authentication/i);
      assertHookOk(await sim.cleanupJob(), "cleanup_job after a failed prepare_job");
    },
    { ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS: PREPARE_TIMEOUT_SECONDS },
  );

  await hc.job(
    t,
    "a wrong image fails fast, naming the image and the reason",
    async ({ sim }) => {
      const prepared = await sim.prepareJob({
        container: jobContainer("nginxx:latest"),
        services: [],
      });
      const log = assertHookFailed(prepared, "prepare_job");
      assert.doesNotMatch(log, TIMED_OUT, "prepare_job waited for its timeout");
      assert.match(log, /nginxx:latest/);
      assert.match(log, /ErrImagePull|ImagePullBackOff|not found|cannot be pulled/);
      assert.doesNotMatch(log, /timed out|timeout/i, "a pull error is not a timeout");
      assertHookOk(await sim.cleanupJob(), "cleanup_job after a failed prepare_job");
    },
    { ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS: PREPARE_TIMEOUT_SECONDS },
  );

  await hc.job(
    t,
    "an ACTIONS_RUNNER_IMAGE without externals fails naming it and what cp said, leaving nothing",
    async ({ sim }) => {
      const prepared = await sim.prepareJob({ container: jobContainer("busybox"), services: [] });
      const log = assertHookFailed(prepared, "prepare_job");
      assert.doesNotMatch(log, TIMED_OUT, "prepare_job waited for its timeout");
      assert.match(log, /container "externals"/);
      assert.match(log, /Set ACTIONS_RUNNER_IMAGE to the runner image you run/);
      assert.match(log, /\/home\/runner\/externals\/\.'?: No such file or directory/);
      assert.deepEqual(await hc.leftovers(), [], "prepare_job left objects behind");
      assertHookOk(await sim.cleanupJob(), "cleanup_job after a failed prepare_job");
    },
    {
      ACTIONS_RUNNER_IMAGE: "debian:12",
      ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS: PREPARE_TIMEOUT_SECONDS,
    },
  );

  await hc.job(
    t,
    "a bad service image: prepare_job removes its pod and secret, cleanup_job still succeeds",
    async ({ sim }) => {
      const prepared = await sim.prepareJob({
        container: jobContainer(PRIVATE_JOB_IMAGE, { registry: CREDENTIALS }),
        services: [nginx(), serviceContainer("no-such-registry.example/db:9")],
      });
      const log = assertHookFailed(prepared, "prepare_job");
      assert.match(log, /no-such-registry\.example\/db:9/);
      assert.deepEqual(await hc.leftovers(), [], "prepare_job left objects behind");
      assertHookOk(await sim.cleanupJob(), "cleanup_job after a failed prepare_job");
    },
    { ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS: PREPARE_TIMEOUT_SECONDS },
  );
  // A Secret the job container's environment names (through the template), made only once the
  // kubelet has said it is missing: the kubelet tries again, and kubehook waits for that instead
  // of failing at the first CreateContainerConfigError, as a Secret made just before the pod can
  // be missing from the kubelet's cache for a moment. Never made, it fails, in the kubelet's words.
  const template = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(
    template,
    "spec:\n  containers:\n    - name: $job\n      env:\n        - name: FROM_SECRET\n" +
      "          valueFrom: { secretKeyRef: { name: late-secret, key: v } }\n",
  );
  const secrets = `/api/v1/namespaces/${NAMESPACE}/secrets`;
  try {
    await hc.job(t, "a Secret the environment names, made late: waited for", async ({ sim }) => {
      const run = sim.start("prepare_job", { container: jobContainer("busybox"), services: [] });
      let ended = false;
      run.result.then(() => ended = true);
      for (let reason = ""; reason !== "CreateContainerConfigError" && !ended;) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const pods = await hc.api<{ items: V1Pod[] }>(
          "GET",
          `/api/v1/namespaces/${NAMESPACE}/pods`,
        );
        reason = pods.items[0]?.status?.containerStatuses?.find((c) => c.name === "job")?.state
          ?.waiting?.reason ?? "";
      }
      await hc.api("POST", secrets, {
        metadata: { name: "late-secret" },
        stringData: { v: "late" },
      });
      try {
        assertHookOk(await run.result, "prepare_job");
        const step = await sim.scriptStep('echo "from the secret: $FROM_SECRET"');
        assert.match(step.stdout, /^from the secret: late$/m);
        assertHookOk(await sim.cleanupJob(), "cleanup_job");
      } finally {
        await hc.api("DELETE", `${secrets}/late-secret`);
      }
    }, { ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE: template });

    await hc.job(
      t,
      "a Secret the environment names, never made: fails naming it",
      async ({ sim }) => {
        const log = assertHookFailed(
          await sim.prepareJob({ container: jobContainer("busybox"), services: [] }),
          "prepare_job",
        );
        assert.match(log, /CreateContainerConfigError/);
        assert.match(log, /secret "late-secret" not found/);
        assertHookOk(await sim.cleanupJob(), "cleanup_job");
      },
      { ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE: template },
    );
  } finally {
    await Deno.remove(template);
  }
});

/** The registry password may appear only in `::add-mask::` commands, which the runner hides. */
function assertPasswordOnlyMasked(log: string): void {
  const leaks = log.split("\n").filter((line) =>
    line.includes(CREDENTIALS.password) && !line.startsWith("::add-mask::")
  );
  assert.deepEqual(leaks, [], "the registry password is in the log");
}
