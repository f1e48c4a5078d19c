/**
 * A step's secrets never outlive it: when preparing its upload fails half-way on the runner (here
 * the host's `find` fails while listing the runner's changes), the environment file that holds its
 * secret values is removed with the failure, and no line of the hook's output carries them; in the
 * pod, a step that cannot start (its working directory is missing) removes its environment file too.
 * And no secret a job hands kubehook — registry passwords, env values — is ever in a line it prints,
 * an error, a response, or any process's arguments on the machine (which, on both tiers, include
 * the pods' processes).
 */
import assert from "node:assert/strict";
import { containerOf } from "../../src/runner/input.ts";
import { watchArguments } from "../support/argument_watch.ts";
import {
  type HookResult,
  jobContainer,
  runnerArgs,
  serviceContainer,
} from "../support/runner_sim.ts";
import { assertHookFailed, assertHookOk, HookCluster, logOf } from "./hook_cluster.ts";

const SECRET = "hunter2-do-not-leak";

/** Every file under `dir` whose content holds `needle`. */
async function filesHolding(dir: string, needle: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...await filesHolding(path, needle));
    else if (entry.isFile && (await Deno.readTextFile(path).catch(() => "")).includes(needle)) {
      found.push(path);
    }
  }
  return found;
}

Deno.test("a step's secrets never outlive it, on the runner or in the pod", async (t) => {
  await using hc = await HookCluster.start();
  const fakeBin = await Deno.makeTempDir({ prefix: "kubehook-fake-find-" });
  // Fails only when listing what changed since the last sync; every other find is the real one.
  await Deno.writeTextFile(
    `${fakeBin}/find`,
    '#!/bin/sh\nfor a in "$@"; do [ "$a" = -newerct ] && { echo "find: simulated failure" >&2; exit 1; }; done\n' +
      'exec /usr/bin/find "$@"\n',
  );
  await Deno.chmod(`${fakeBin}/find`, 0o755);
  try {
    await hc.job(
      t,
      "the listing fails: the step fails and its env file is gone",
      async ({ sim }) => {
        assertHookOk(
          await sim.prepareJob({ container: jobContainer("busybox:1.36"), services: [] }),
          "prepare_job",
        );
        const step = await sim.scriptStep("echo never runs", { env: { TOKEN: SECRET } });
        assert.match(assertHookFailed(step, "the step"), /simulated failure/);
        assert.deepEqual(await filesHolding(sim.work, SECRET), [], "a file still holds the secret");
        assert.ok(!logOf(step).includes(SECRET), "the hook printed the secret");
        assertHookOk(await sim.cleanupJob(), "cleanup_job");
      },
      { PATH: `${fakeBin}:${Deno.env.get("PATH")}` },
    );
  } finally {
    await Deno.remove(fakeBin, { recursive: true });
  }

  await hc.job(
    t,
    "a step that cannot start leaves no env file in the pod",
    async ({ sim, runnerPod }) => {
      assertHookOk(
        await sim.prepareJob({ container: jobContainer("busybox:1.36"), services: [] }),
        "prepare_job",
      );
      const step = await sim.scriptStep("echo never runs", {
        env: { TOKEN: SECRET },
        workingDirectory: "/__w/no/such/dir",
      });
      assert.match(
        assertHookFailed(step, "the step"),
        /working directory \/__w\/no\/such\/dir does not exist/,
      );
      const holding = await hc.execInPod(
        `${runnerPod}-workflow`,
        `grep -rl '${SECRET}' /__w 2>/dev/null; true`,
      );
      assert.equal(holding.trim(), "", "a file in the pod still holds the secret");
      assertHookOk(await sim.cleanupJob(), "cleanup_job");
    },
  );
});

/** Secrets a whole job hands kubehook: registry passwords (right and wrong) and env values. */
const LEAKABLE = {
  registry: "s3cret",
  wrongRegistry: "wr0ng-pa55-do-not-leak",
  step: "st3p-value-do-not-leak",
  service: "s3rvice-value-do-not-leak",
  container: "c0ntainer-step-value-do-not-leak",
};

Deno.test("no secret is ever in kubehook's output, its errors or a process's arguments", async (t) => {
  await using hc = await HookCluster.start();
  const needles = Object.values(LEAKABLE);
  const watch = watchArguments(needles);
  const captured: string[] = [];
  const keep = (result: HookResult) => {
    captured.push(result.stdout, result.stderr, JSON.stringify(result.response));
    return result;
  };
  try {
    await hc.job(t, "a whole job with private images and secret values", async ({ sim }) => {
      const credentials = {
        username: "robot",
        password: LEAKABLE.registry,
        serverUrl: "registry.local",
      };
      assertHookOk(
        keep(
          await sim.prepareJob({
            container: jobContainer("registry.local/private/tools:1.0", {
              registry: credentials,
              environmentVariables: { JOB_TOKEN: LEAKABLE.step },
            }),
            services: [serviceContainer("registry.local/private/cache:2.1", {
              registry: credentials,
              entryPoint: "sleep",
              entryPointArgs: ["600"],
              environmentVariables: { SERVICE_TOKEN: LEAKABLE.service },
            })],
          }),
        ),
        "prepare_job",
      );
      // The values arrive (their lengths, never the values themselves, are checked in the pod).
      const length = LEAKABLE.step.length;
      assertHookOk(
        keep(
          await sim.scriptStep(
            `test "\${#TOKEN}" = ${length} && test "\${#JOB_TOKEN}" = ${length}`,
            {
              env: { TOKEN: LEAKABLE.step },
            },
          ),
        ),
        "a step with a secret",
      );
      assert.equal(
        keep(await sim.scriptStep("exit 3", { env: { TOKEN: LEAKABLE.step } })).code,
        3,
        "a failing step with a secret",
      );
      assertHookOk(
        keep(
          await sim.containerStep(containerOf("registry.local/private/tools:1.0", {
            entryPoint: "sh",
            entryPointArgs: runnerArgs(["-c", `test "\${#TOKEN}" = ${LEAKABLE.container.length}`]),
            environmentVariables: { TOKEN: LEAKABLE.container },
            registry: credentials,
          })),
        ),
        "a container step with a secret and a private image",
      );
      assertHookOk(keep(await sim.cleanupJob()), "cleanup_job");
    });

    await hc.job(
      t,
      "a wrong registry password fails the job without showing it",
      async ({ sim }) => {
        assertHookFailed(
          keep(
            await sim.prepareJob({
              container: jobContainer("registry.local/private/app:1.0", {
                registry: {
                  username: "robot",
                  password: LEAKABLE.wrongRegistry,
                  serverUrl: "registry.local",
                },
              }),
              services: [],
            }),
          ),
          "prepare_job",
        );
        assertHookOk(keep(await sim.cleanupJob()), "cleanup_job");
      },
    );
  } finally {
    const argv = await watch.stop();
    assert.ok(watch.samples() > 10, `the process watch sampled only ${watch.samples()} times`);
    assert.deepEqual(argv, [], "a secret was a process argument");
  }
  // `::add-mask::` is how a secret is handed to the runner, which then hides it: the one place
  // it may appear.
  const leaks = captured.flatMap((text) => text.split("\n"))
    .filter((line) => !line.startsWith("::add-mask::"))
    .filter((line) => needles.some((n) => line.includes(n)));
  assert.deepEqual(leaks, [], "a secret is in kubehook's output");
});
