/**
 * Steps that outlive their connection: the exec websocket dropped or stalled mid-step must not
 * cost a byte of output, the exit code, or run the step twice; and a cancelled job (SIGINT to the
 * hook) stops the step's processes in the pod and lets the hook exit on its own.
 */
import assert from "node:assert/strict";
import { jobContainer, type RunnerSim } from "../support/runner_sim.ts";
import { assertHookOk, HookCluster, logOf } from "./hook_cluster.ts";

/** Short heartbeats so a stalled socket is noticed in about a second. */
const QUICK_HEARTBEAT = {
  ACTIONS_RUNNER_HEARTBEAT_PERIOD_MS: "200",
  ACTIONS_RUNNER_HEARTBEAT_DEADLINE_MS: "1500",
};
const LINES = 120;
/** What the cancelled step runs: far longer than any test. */
const SLEEPER = "sleep 987";

/** A step that counts its runs in the workspace, prints numbered lines slowly enough for a fault to
 * land mid-step, and exits with `code`. */
function countedStep(counter: string, code: number): string {
  return `echo run >> "${counter}"
i=0
while [ $i -lt ${LINES} ]; do
  echo "line $i of the step"
  if [ $((i % 20)) = 0 ]; then sleep 0.2; fi
  i=$((i + 1))
done
exit ${code}
`;
}

/** Runs {@link countedStep} under `fault` and checks output, exit code and a single run. */
async function survives(
  hc: HookCluster,
  sim: RunnerSim,
  fault: { kind: "exec-drop" | "exec-stall"; afterBytes: number },
  code: number,
): Promise<void> {
  const counter = `counter-${fault.kind}`;
  await hc.cluster.addFaults({ ...fault, count: 1 });
  const step = await sim.scriptStep(countedStep(counter, code));
  assert.deepEqual(await hc.faultsLeft(), [], "the fault never hit an exec session");
  assert.equal(step.code, code, logOf(step));
  const lines = step.stdout.split("\n").filter((l) => l.startsWith("line "));
  assert.deepEqual(
    lines,
    Array.from({ length: LINES }, (_, i) => `line ${i} of the step`),
    "output lost or repeated",
  );
  assert.equal(
    await Deno.readTextFile(`${sim.workspace}/${counter}`),
    "run\n",
    "the step ran more than once",
  );
}

/** The processes in the job pod's container, pid → command line, without the lister itself. */
async function processes(hc: HookCluster, pod: string): Promise<Map<string, string>> {
  const marker = "kubehook-test-lister";
  const out = await hc.execInPod(
    pod,
    `: ${marker}; for p in /proc/[0-9]*; do printf '%s ' "\${p#/proc/}"; tr '\\0\\n' '  ' <"$p/cmdline" 2>/dev/null; echo; done`,
  );
  const list = new Map<string, string>();
  for (const line of out.split("\n")) {
    const [pid, ...words] = line.trim().split(" ");
    const command = words.join(" ");
    // The lister's own shell, its subshells and its `tr` come and go with each listing.
    if (!command || command.includes(marker) || command.startsWith("tr ")) continue;
    list.set(pid, command);
  }
  return list;
}

Deno.test("steps survive broken exec connections and cancellation", async (t) => {
  await using hc = await HookCluster.start();
  await hc.job(t, "one job through drops, stalls and a cancellation", async ({ sim, t }) => {
    assertHookOk(
      await sim.prepareJob({ container: jobContainer("debian:12"), services: [] }),
      "prepare_job",
    );

    await t.step("exec dropped mid-step", async () => {
      await survives(hc, sim, { kind: "exec-drop", afterBytes: 400 }, 3);
    });

    await t.step("exec stalled mid-step", async () => {
      await survives(hc, sim, { kind: "exec-stall", afterBytes: 400 }, 0);
    });

    await t.step("SIGINT stops the step in the pod and the hook exits", async () => {
      const jobPod = String(sim.state?.jobPod);
      const before = await processes(hc, jobPod);
      const run = await sim.startScriptStep(`echo started\nexec ${SLEEPER}\n`);
      await run.hook.waitForOutput("started");
      run.hook.signal("SIGINT");
      // The runner would escalate after 7.5 s; only a hook that ignores SIGINT gets this far.
      const escalate = setTimeout(() => run.hook.signal("SIGKILL"), 20_000);
      const exit = await run.hook.finished.finally(() => clearTimeout(escalate));
      const result = await run.result;
      assert.equal(exit.signal, null, `the hook did not exit on SIGINT:\n${logOf(result)}`);
      assert.notEqual(result.code, 0, "a cancelled step must not succeed");
      const after = await processes(hc, jobPod);
      assert.deepEqual(
        [...after.entries()].filter(([pid]) => !before.has(pid)).map(([pid, cmd]) =>
          `${pid} ${cmd.slice(0, 160)}`
        ),
        [],
        "processes of the cancelled step (or kubehook's helpers for it) still run in the pod",
      );
    });

    await t.step(
      "the copy back's exec waits in the pod while the step runs, then is gone",
      async () => {
        const jobPod = String(sim.state?.jobPod);
        const run = await sim.startScriptStep(
          "echo started\nuntil [ -e /tmp/kh-armed-go ]; do sleep 0.05; done\necho done > armed.txt\n",
        );
        await run.hook.waitForOutput("started");
        const armed = async () =>
          [...(await processes(hc, jobPod)).values()].filter((cmd) =>
            cmd.includes("kubehook-armed")
          );
        // Opened once the pod says the step started: wait for it to show (bounded, not timed).
        let waiting: string[] = [];
        for (let i = 0; i < 100 && waiting.length === 0; i++) {
          waiting = await armed();
          if (waiting.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.equal(waiting.length, 1, "no copy back waiting in the pod while the step ran");
        await hc.execInPod(jobPod, "touch /tmp/kh-armed-go");
        const result = await run.result;
        assertHookOk(result, "the step");
        assert.equal(await Deno.readTextFile(`${sim.workspace}/armed.txt`), "done\n");
        assert.deepEqual(await armed(), [], "the armed copy back outlived its step");
      },
    );

    await t.step(
      "a stop that hangs: the runner's second signal ends the hook, saying so",
      async () => {
        // The stop's own exec goes silent: the hook still waits on it when the runner escalates.
        await hc.cluster.addFaults({
          kind: "exec-stall",
          afterBytes: 0,
          command: "kill -TERM",
          count: 1,
        });
        const run = await sim.startScriptStep(`echo started\nexec ${SLEEPER}\n`);
        await run.hook.waitForOutput("started");
        run.hook.signal("SIGINT");
        await run.hook.waitForOutput("cancelling the step");
        run.hook.signal("SIGTERM");
        const escalate = setTimeout(() => run.hook.signal("SIGKILL"), 20_000);
        const exit = await run.hook.finished.finally(() => clearTimeout(escalate));
        const result = await run.result;
        assert.deepEqual(await hc.faultsLeft(), [], "the stop's exec was never stalled");
        assert.equal(exit.signal, null, `the runner had to kill the hook:\n${logOf(result)}`);
        assert.equal(result.code, 1, logOf(result));
        assert.match(
          logOf(result),
          /::error::kubehook: the job was cancelled and run_script_step had not ended 2 s after the runner's second signal/,
        );
      },
    );

    assertHookOk(await sim.cleanupJob(), "cleanup_job");
  }, QUICK_HEARTBEAT);
});
