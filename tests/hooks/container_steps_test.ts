/**
 * Container steps (`uses: docker://…`, container actions) run as `docker run` would run them,
 * driven like the runner: the image's own ENTRYPOINT unless the step replaces it, arguments with
 * spaces, quotes and empty strings, the environment byte-exact, the `/github/*` directories, the
 * job's services on localhost, the container's own exit code, and what it wrote back on the runner
 * and in the job container before the next step. Nothing is needed in the action's image.
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { containerOf } from "../../src/runner/input.ts";
import { EDGE_VALUES, printedValues, printValuesScript, SECRET } from "../support/edge_values.ts";
import { jobContainer, runnerArgs, serviceContainer } from "../support/runner_sim.ts";
import { assertHookFailed, assertHookOk, HookCluster, logOf } from "./hook_cluster.ts";

/** A shell in the distroless image, whose only file is /app. */
const DISTROLESS = "distroless.local/app:1";

/** The action's own output: stdout without kubehook's workflow commands. */
function actionOutput(stdout: string): string {
  return stdout.split("\n").filter((line) => !line.startsWith("::")).join("\n");
}

Deno.test("container steps run like docker run, in the job pod", async (t) => {
  await using hc = await HookCluster.start();
  await hc.job(
    t,
    "a debian job with an nginx service and container steps",
    async ({ sim, t, runnerPod }) => {
      await Deno.writeTextFile(`${sim.workspace}/from-runner.txt`, "laid out by the runner\n");
      assertHookOk(
        await sim.prepareJob({
          container: jobContainer("debian:12"),
          services: [serviceContainer("nginx:1.27", { portMappings: ["80"] })],
        }),
        "prepare_job",
      );

      await t.step(
        "docker://busybox writes the workspace and GITHUB_OUTPUT and exits 9",
        async () => {
          const step = await sim.containerStep(containerOf("busybox:1.36", {
            entryPoint: "sh",
            entryPointArgs: runnerArgs([
              "-c",
              'cat from-runner.txt; pwd; echo made > made.txt; echo "x=1" >> "$GITHUB_OUTPUT"; exit 9',
            ]),
          }));
          assert.equal(step.code, 9, logOf(step));
          assert.equal(step.runnerError, undefined);
          assert.match(step.stdout, /^laid out by the runner\n\/github\/workspace$/m);
          assert.deepEqual(step.fileCommands?.output, { x: "1" });
          assert.equal(await Deno.readTextFile(`${sim.workspace}/made.txt`), "made\n");
          const next = await sim.scriptStep("cat made.txt");
          assertHookOk(next, "the next script step");
          assert.match(next.stdout, /^made$/m);
        },
      );

      await t.step("the /github directories hold what the runner laid out", async () => {
        await Deno.writeTextFile(`${sim.temp}/_github_home/.npmrc`, "home of the job\n");
        const step = await sim.containerStep(containerOf("busybox:1.36", {
          entryPoint: "sh",
          entryPointArgs: runnerArgs([
            "-c",
            'cat "$GITHUB_EVENT_PATH"; echo; cat /github/home/.npmrc; ls /github; ' +
            'test -f "$GITHUB_ENV" && echo "file commands at $(dirname "$GITHUB_ENV")"; ' +
            'echo tmp > "$RUNNER_TEMP/scratch" && ls /github/runner_temp/_github_home/.npmrc',
          ]),
        }));
        // What the action saw first, each with a short message: a failing check here would
        // otherwise show only as the step's exit code.
        assert.match(step.stdout, /^home of the job$/m, "/github/home lacks the runner's .npmrc");
        assert.match(
          step.stdout,
          /^\/github\/runner_temp\/_github_home\/\.npmrc$/m,
          "/github/runner_temp/_github_home lacks the runner's .npmrc",
        );
        assertHookOk(step);
        assert.match(step.stdout, /"ref":"refs\/heads\/main"/);
        assert.match(
          actionOutput(step.stdout),
          /file_commands\nhome\nrunner_temp\nworkflow\nworkspace/,
        );
        assert.match(step.stdout, /^file commands at \/github\/file_commands$/m);
        assert.equal(await Deno.readTextFile(`${sim.temp}/scratch`), "tmp\n");
      });

      await t.step("the image's own ENTRYPOINT runs when the step gives none", async () => {
        const step = await sim.containerStep(containerOf(DISTROLESS, {
          entryPointArgs: runnerArgs(["sh", "-c", "echo distroless says hi; ls /"]),
        }));
        assertHookOk(step);
        assert.match(step.stdout, /^distroless says hi$/m);
        assert.doesNotMatch(step.stdout, /^(bin|usr|tar)$/m, "the image has only /app");
      });

      await t.step("arguments keep spaces, quotes and empty strings", async () => {
        const args = ["with space", 'a "quoted" word', "", "$(not expanded) $HOME"];
        const step = await sim.containerStep(containerOf("busybox:1.36", {
          entryPoint: "sh",
          entryPointArgs: runnerArgs([
            "-c",
            'for a in "$@"; do printf "[%s]\\n" "$a"; done',
            "sh",
            ...args,
          ]),
        }));
        assertHookOk(step);
        assert.equal(actionOutput(step.stdout), args.map((a) => `[${a}]\n`).join(""));
      });

      await t.step("the job's nginx service answers on localhost", async () => {
        const step = await sim.containerStep(containerOf("busybox:1.36", {
          entryPoint: "wget",
          entryPointArgs: runnerArgs(["-qO-", "http://localhost:80/"]),
        }));
        assertHookOk(step);
        assert.match(step.stdout, /Welcome to nginx!/);
      });

      await t.step("the environment arrives byte-exact and stays out of the pod spec", async () => {
        const names = Object.keys(EDGE_VALUES);
        const step = await sim.containerStep(containerOf("busybox:1.36", {
          entryPoint: "sh",
          entryPointArgs: runnerArgs(["-c", printValuesScript([...names, "SECRET_TOKEN"])]),
          environmentVariables: { ...EDGE_VALUES, SECRET_TOKEN: SECRET },
        }));
        assertHookOk(step);
        assert.deepEqual(printedValues(step.stdout, names), EDGE_VALUES);
        assert.equal(printedValues(step.stdout, ["SECRET_TOKEN"]).SECRET_TOKEN, SECRET);
        const [pod] = await hc.labelled<V1Pod>("pods", runnerPod);
        assert.ok(!JSON.stringify(pod.spec).includes(SECRET), "a secret is in the pod spec");
        assert.deepEqual(await hc.labelled("secrets", runnerPod), [], "the step's secret is left");
      });

      await t.step("a dropped log connection loses no line and repeats none", async () => {
        await hc.cluster.addFaults({ kind: "log-drop", afterBytes: 300, count: 1 });
        const step = await sim.containerStep(containerOf("busybox:1.36", {
          entryPoint: "sh",
          entryPointArgs: runnerArgs([
            "-c",
            'i=0; while [ $i -lt 60 ]; do echo "line $i"; [ $((i % 15)) = 0 ] && sleep 0.2; i=$((i + 1)); done; exit 3',
          ]),
        }));
        assert.deepEqual(await hc.faultsLeft(), [], "the fault never hit a log stream");
        assert.equal(step.code, 3, logOf(step));
        assert.deepEqual(
          step.stdout.split("\n").filter((l) => l.startsWith("line ")),
          Array.from({ length: 60 }, (_, i) => `line ${i}`),
        );
        assert.match(logOf(step), /log connection .* broke .*resuming/);
      });

      await t.step("a cancelled step stops; the hook exits and the pod goes on", async () => {
        const run = await sim.startContainerStep(containerOf(DISTROLESS, {
          entryPointArgs: runnerArgs(["sh", "-c", "echo started; exec sleep 987"]),
        }));
        await run.hook.waitForOutput(/started/);
        run.hook.signal("SIGINT");
        const step = await run.result;
        assert.equal(step.code, 130, logOf(step));
        const left = await hc.execInPod(`${runnerPod}-workflow`, "ps -o args 2>/dev/null || ps");
        assert.doesNotMatch(left, /sleep 987/, "the step's process still runs");
        const after = await sim.scriptStep("echo still fine");
        assertHookOk(after, "the next step");
      });

      await t.step(
        "without the ephemeral containers permission: a pod of its own, a warning, the same services",
        async () => {
          await hc.cluster.addFaults({
            kind: "api-error",
            status: 403,
            method: "PATCH",
            path: "ephemeralcontainers$",
            count: 1,
          });
          const step = await sim.containerStep(containerOf("busybox:1.36", {
            entryPoint: "sh",
            entryPointArgs: runnerArgs([
              "-c",
              "cat made.txt; echo again >> made.txt; " +
              "wget -qO- http://localhost:80/ | grep -o 'Welcome to nginx!'",
            ]),
          }));
          assertHookOk(step);
          assert.match(
            step.stdout,
            /^Welcome to nginx!$/m,
            "the job's service is not on localhost",
          );
          assert.match(logOf(step), /::warning::.*pods\/ephemeralcontainers.*examples\/rbac\.yaml/);
          assert.match(step.stdout, /^made$/m);
          assert.equal(await Deno.readTextFile(`${sim.workspace}/made.txt`), "made\nagain\n");
          const next = await sim.scriptStep("cat made.txt");
          assert.match(next.stdout, /^again$/m, "the job container did not get the change");
        },
      );

      await t.step("a wrong image fails fast, naming it", async () => {
        const log = assertHookFailed(
          await sim.containerStep(containerOf("busybox:does-not-exist")),
        );
        assert.match(log, /image "busybox:does-not-exist" cannot be pulled/);
      });

      assertHookOk(await sim.cleanupJob(), "cleanup_job");
    },
  );

  await hc.job(
    t,
    "a step in a pod of its own: its files and the runner's reach the job pod, and come back once",
    async ({ sim }) => {
      assertHookOk(
        await sim.prepareJob({ container: jobContainer("debian:12"), services: [] }),
        "prepare_job",
      );
      assertHookOk(await sim.scriptStep("true"), "a first step");
      // New on the runner after the last sync: a tree of directories, as an action download is.
      await Deno.mkdir(`${sim.work}/_actions/octo/tool/v1`, { recursive: true });
      await Deno.writeTextFile(`${sim.work}/_actions/octo/tool/v1/action.yml`, "name: tool\n");
      // A private image: the step runs in a pod of its own, then both sides reach the job pod.
      assertHookOk(
        await sim.containerStep(containerOf("registry.local/private/tools:1.0", {
          entryPoint: "sh",
          entryPointArgs: runnerArgs(["-c", "mkdir -p made/deep && echo x > made/deep/file"]),
          registry: { username: "robot", password: "s3cret", serverUrl: "registry.local" },
        })),
        "the step in its own pod",
      );
      const next = await sim.scriptStep(
        "cat made/deep/file /__w/_actions/octo/tool/v1/action.yml",
      );
      assertHookOk(next, "the next step");
      assert.match(next.stdout, /^x\nname: tool$/m);
      // Nothing changed in the job pod since the push: nothing comes back (the push used to fall
      // in this step's window and came back as the pod's own changes, some twice).
      assert.doesNotMatch(logOf(next), /the step's changes, back to the runner|Not copied back/);
      assertHookOk(await sim.cleanupJob(), "cleanup_job");
    },
  );

  await hc.job(t, "a job without a job container, and a private step image", async ({ sim }) => {
    await Deno.writeTextFile(`${sim.workspace}/input.txt`, "from the runner\n");
    const step = await sim.containerStep(containerOf("registry.local/private/tools:1.0", {
      entryPoint: "sh",
      entryPointArgs: runnerArgs([
        "-c",
        'cat input.txt; echo out > output.txt; echo "y=2" >> "$GITHUB_OUTPUT"',
      ]),
      registry: { username: "robot", password: "s3cret", serverUrl: "registry.local" },
    }));
    assertHookOk(step);
    assert.match(step.stdout, /^from the runner$/m);
    assert.equal(await Deno.readTextFile(`${sim.workspace}/output.txt`), "out\n");
    assert.deepEqual(step.fileCommands?.output, { y: "2" });
    assert.ok(
      !logOf(step).split("\n").some((l) => l.includes("s3cret") && !l.startsWith("::add-mask::")),
      "the registry password is in the log unmasked",
    );
    const denied = assertHookFailed(
      // Another image: one the node holds already runs without credentials (IfNotPresent).
      await sim.containerStep(containerOf("registry.local/private/cache:2.1")),
    );
    assert.match(denied, /image "registry.local\/private\/cache:2.1" cannot be pulled/);
    assertHookOk(await sim.cleanupJob(), "cleanup_job");
  });
});
