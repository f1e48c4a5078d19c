/**
 * Dockerfile actions, driven like the runner: a container action whose image is built from its
 * Dockerfile in a builder pod, pushed to the cluster's registry, and run from there — once: the
 * same action in a later job builds nothing. Also: a changed context builds again, push and pull
 * hosts apart, a broken Dockerfile (its line and the builder's error in the log), missing
 * registry settings (refused at once, both variables named), and a builder pod lost mid-build;
 * no pod or secret is left after any of them (HookCluster.job checks).
 *
 * Each tier has a registry for builds (ClusterAccess.registry): pods reach it by one name, the
 * node by another, and the hook — a host process here, a pod under ARC — through the registry's
 * proxy address (`http_proxy`), as a runner pod would by name. These machines cannot reach Docker
 * Hub: builders pull `busybox` from the tier's mirror (KUBEHOOK_BUILDER_ARGS).
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { containerOf } from "../../src/runner/input.ts";
import type { BuildRegistry } from "../cluster/harness.ts";
import { runnerArgs } from "../support/runner_sim.ts";
import type { RunnerSim } from "../support/runner_sim.ts";
import { assertHookFailed, assertHookOk, HookCluster, logOf, NAMESPACE } from "./hook_cluster.ts";

const SECRET = "registry-push";
const ACTION = "octo/hello/v1";

/** The action: its RUN makes a file, its ENTRYPOINT prints it with the step's arguments. */
const DOCKERFILE = `FROM busybox
ARG GREETING=made-by-run
RUN echo "$GREETING" > /greeting
ENTRYPOINT ["sh", "-c", "cat /greeting; echo \\"args: $*\\"", "entry"]
`;

/** Writes the action under `<work>/_actions` as the runner downloads it; returns its Dockerfile. */
async function writeAction(sim: RunnerSim, dockerfile = DOCKERFILE, extra = {}): Promise<string> {
  const dir = `${sim.work}/_actions/${ACTION}`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/Dockerfile`, dockerfile);
  for (const [name, text] of Object.entries(extra)) {
    await Deno.writeTextFile(`${dir}/${name}`, text as string);
  }
  return `${dir}/Dockerfile`;
}

function buildStep(dockerfile: string) {
  return containerOf(null as unknown as string, {
    image: null,
    dockerfile,
    entryPointArgs: runnerArgs(["one", "two"]),
    workingDirectory: "/github/workspace",
  });
}

Deno.test("Dockerfile actions are built in the cluster, once", async (t) => {
  await using hc = await HookCluster.start();
  const registry = hc.cluster.registry;
  const env = {
    // The runner's Role with its rules for Dockerfile actions uncommented (examples/rbac.yaml).
    KUBEHOOK_CONTEXT: "builder",
    ACTIONS_RUNNER_CONTAINER_HOOKS_K8S_REGISTRY_HOST: `${registry.host}/ci`,
    ACTIONS_RUNNER_CONTAINER_HOOKS_K8S_REGISTRY_SECRET_NAME: SECRET,
    KUBEHOOK_REGISTRY_INSECURE: "true",
    KUBEHOOK_BUILDER_ARGS: `--registry-mirror=${registry.mirror} ` +
      `--insecure-registry=${registry.mirror}`,
    http_proxy: registry.proxyUrl,
  };
  const image = (host: string) => `${escape(host)}\/ci\/octo-hello-v1:ctx-`;
  const withSecret = async (body: () => Promise<void>) => {
    await createRegistrySecret(hc, registry);
    try {
      await body();
    } finally {
      await hc.cluster.fetch(`/api/v1/namespaces/${NAMESPACE}/secrets/${SECRET}`, {
        method: "DELETE",
      }).then((r) => r.body?.cancel());
    }
  };
  let firstTag = "";

  await hc.job(
    t,
    "the first job builds the action and runs it",
    ({ sim }) =>
      withSecret(async () => {
        const step = await sim.containerStep(buildStep(await writeAction(sim)));
        assertHookOk(step, "the Dockerfile step");
        const log = logOf(step);
        assert.match(log, new RegExp(`::group::Building ${ACTION}`));
        assert.match(log, /INFO.*\[\d+\] RUN echo "\$GREETING" > \/greeting/, "Kaniko's output");
        assert.match(step.stdout, /^made-by-run$/m);
        assert.match(step.stdout, /^args: one two$/m);
        firstTag = new RegExp(`${image(registry.host)}([0-9a-f]{64})`).exec(log)![1];
      }),
    env,
  );

  await hc.job(
    t,
    "a second job with the same action builds nothing",
    ({ sim }) =>
      withSecret(async () => {
        const step = await sim.containerStep(buildStep(await writeAction(sim)));
        assertHookOk(step, "the Dockerfile step");
        const log = logOf(step);
        assert.doesNotMatch(log, /::group::Building/);
        assert.match(log, new RegExp(`built before .*${firstTag}.*not building it again`));
        assert.match(step.stdout, /^made-by-run$/m);
        assert.match(step.stdout, /^args: one two$/m);
      }),
    env,
  );

  await hc.job(
    t,
    "a change in the action's files builds it again",
    ({ sim }) =>
      withSecret(async () => {
        const step = await sim.containerStep(
          buildStep(await writeAction(sim, DOCKERFILE, { "README.md": "changed\n" })),
        );
        assertHookOk(step, "the Dockerfile step");
        assert.match(logOf(step), /::group::Building/);
        assert.doesNotMatch(logOf(step), new RegExp(firstTag));
      }),
    env,
  );

  await hc.job(
    t,
    "push and pull hosts apart: pods push by one name, the node pulls by another",
    ({ sim }) =>
      withSecret(async () => {
        const step = await sim.containerStep(
          buildStep(await writeAction(sim, DOCKERFILE.replace("made-by-run", "apart"))),
        );
        assertHookOk(step, "the Dockerfile step");
        const log = logOf(step);
        // Pods cannot reach the node's name (their own loopback): the push went by theirs...
        assert.match(log, new RegExp(`to push ${image(registry.host)}`));
        // ...and the step's pod pulled by the node's name for it.
        assert.match(log, new RegExp(`image "${image(registry.nodeHost)}`));
        assert.match(step.stdout, /^apart$/m);
      }),
    {
      ...env,
      ACTIONS_RUNNER_CONTAINER_HOOKS_K8S_REGISTRY_HOST: `${registry.nodeHost}/ci`,
      ACTIONS_RUNNER_CONTAINER_HOOKS_K8S_REGISTRY_HOST_PUSH: `${registry.host}/ci`,
    },
  );

  await hc.job(
    t,
    "a broken Dockerfile fails the step with its line and the builder's error",
    ({ sim }) =>
      withSecret(async () => {
        const failing = await sim.containerStep(
          buildStep(await writeAction(sim, "FROM busybox\nRUN echo fine\nRUN exit 3\n")),
        );
        const log = assertHookFailed(failing, "a failing RUN");
        assert.match(log, /Dockerfile:3: RUN exit 3/);
        assert.match(log, /exit status 3/);
        const unparsable = await sim.containerStep(
          buildStep(await writeAction(sim, "FROM busybox\nFORM nothing\n")),
        );
        const parseLog = assertHookFailed(unparsable, "an unknown instruction");
        assert.match(parseLog, /Dockerfile:2: FORM nothing/);
        assert.match(parseLog, /unknown instruction: FORM/);
      }),
    env,
  );

  await hc.job(
    t,
    "without registry settings the step fails at once, naming them",
    async ({ sim }) => {
      const step = await sim.containerStep(buildStep(await writeAction(sim)));
      const log = assertHookFailed(step);
      assert.match(log, /ACTIONS_RUNNER_CONTAINER_HOOKS_K8S_REGISTRY_HOST/);
      assert.match(log, /ACTIONS_RUNNER_CONTAINER_HOOKS_K8S_REGISTRY_SECRET_NAME/);
      assert.match(log, /README section "Dockerfile actions"/);
    },
  );

  await hc.job(
    t,
    "a builder pod lost mid-build fails the step clearly",
    ({ sim, runnerPod }) =>
      withSecret(async () => {
        const run = await sim.startContainerStep(buildStep(
          await writeAction(sim, "FROM busybox\nRUN echo build-started; sleep 600\n"),
        ));
        await run.hook.waitForOutput(/build-started/);
        await hc.cluster.addFaults({ kind: "evict", pod: await builderPod(hc, runnerPod) });
        const log = assertHookFailed(await run.result);
        assert.match(
          log,
          /The build's pod (was evicted|went away) while it ran .*run the job again/,
        );
      }),
    env,
  );

  await hc.job(
    t,
    "a cancelled build deletes its builder pod and exits",
    ({ sim, runnerPod }) =>
      withSecret(async () => {
        const run = await sim.startContainerStep(buildStep(
          await writeAction(sim, "FROM busybox\nRUN echo cancel-me; sleep 600\n"),
        ));
        await run.hook.waitForOutput(/cancel-me/);
        const builder = await builderPod(hc, runnerPod);
        run.hook.signal("SIGINT");
        const step = await run.result;
        assert.equal(step.code, 130, logOf(step));
        assert.match(logOf(step), new RegExp(`cancelling the build: deleting pod "${builder}"`));
        // HookCluster.job then finds no pod left: the builder is gone, not only asked to go.
      }),
    env,
  );
});

/** The registry's Secret, with its credential for every name the registry goes by. */
async function createRegistrySecret(hc: HookCluster, registry: BuildRegistry) {
  const { username, password } = registry;
  const auth = btoa(`${username}:${password}`);
  const hosts = [registry.host, registry.nodeHost, registry.mirror];
  const config = { auths: Object.fromEntries(hosts.map((h) => [h, { username, password, auth }])) };
  const response = await hc.cluster.fetch(`/api/v1/namespaces/${NAMESPACE}/secrets`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: SECRET },
      type: "kubernetes.io/dockerconfigjson",
      data: { ".dockerconfigjson": btoa(JSON.stringify(config)) },
    }),
  });
  assert.equal(response.status, 201, await response.text());
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The runner's builder pod (it exists once the build prints). */
async function builderPod(hc: HookCluster, runnerPod: string): Promise<string> {
  const pods = await hc.labelled<V1Pod>("pods", runnerPod);
  const builder = pods.find((p) => p.metadata?.name?.includes("-build-"));
  assert.ok(builder, `no builder pod among ${pods.map((p) => p.metadata?.name)}`);
  return builder.metadata!.name!;
}
