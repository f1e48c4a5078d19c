/**
 * The soak, `deno task test:soak` (ignored otherwise; KUBEHOOK_TEST_CLUSTER=real for the real
 * tier): {@link JOBS} jobs — prepare_job, three script steps, cleanup_job — {@link PARALLEL} at a
 * time, with the runner's cancellation (SIGINT, then SIGTERM and SIGKILL as the runner escalates)
 * at random points, and the faults the clusters inject landing between and inside them: exec
 * connections dropped mid-stream and bursts of API 503s. Every choice comes from a generator
 * seeded by KUBEHOOK_SOAK_SEED (random when unset, and printed, so a failing run can be repeated).
 *
 * Afterwards: no pod or secret is left; no process the soak started (a hook, a helper of a hook,
 * a pod's process) is left; every step that was not cancelled ran exactly once, exited with its own
 * code and printed all of its output once; a cancelled hook exited by itself, non-zero; and the
 * hooks' peak memory is as flat at the end of the soak as at its start. It prints its figures.
 *
 * @module
 */
import assert from "node:assert/strict";
import { generator, testSeed } from "../support/random.ts";
import { jobContainer } from "../support/runner_sim.ts";
import type { HookResult, HookRun } from "../support/runner_sim.ts";
import { HookCluster, logOf, NAMESPACE } from "./hook_cluster.ts";

const JOBS = Number(Deno.env.get("KUBEHOOK_SOAK_JOBS") ?? 50);
const PARALLEL = 3;
const STEPS = 3;
const LINES = 40;
/** Short heartbeats, so a stalled or dropped session is noticed quickly. */
const ENV = {
  ACTIONS_RUNNER_HEARTBEAT_PERIOD_MS: "200",
  ACTIONS_RUNNER_HEARTBEAT_DEADLINE_MS: "3000",
};

/** What happens to one job, drawn before it starts. */
interface JobPlan {
  index: number;
  /** The hook call the runner cancels (0 prepare_job, 1..3 the steps), if any, and when. */
  cancel?: { at: number; afterMs: number };
  /** Each step's exit code. */
  codes: number[];
  /** A fault added just before each hook call, if any. */
  faults: (Record<string, unknown> | undefined)[];
}

function planJobs(random: () => number): JobPlan[] {
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
  return Array.from({ length: JOBS }, (_, index) => ({
    index,
    cancel: random() < 0.3
      ? { at: Math.floor(random() * (STEPS + 1)), afterMs: Math.floor(random() * 2500) }
      : undefined,
    codes: Array.from({ length: STEPS }, () => pick([0, 0, 0, 1, 3, 42])),
    faults: Array.from({ length: STEPS + 2 }, () => {
      const roll = random();
      if (roll < 0.15) {
        return { kind: "exec-drop", afterBytes: 50 + Math.floor(random() * 3000), count: 1 };
      }
      if (roll < 0.25) {
        return { kind: "api-error", status: 503, count: 1 + Math.floor(random() * 3) };
      }
      return undefined;
    }),
  }));
}

/** A step that counts its runs in the workspace, prints numbered lines, and exits with `code`. */
function stepScript(step: number, code: number): string {
  return `echo run >> ran-${step}
i=0
while [ $i -lt ${LINES} ]; do echo "step ${step} line $i"; i=$((i + 1)); done
sleep 0.$((RANDOM % 5)) 2>/dev/null || sleep 0.3
exit ${code}
`;
}

/** Process ids whose command line or working directory mentions `marker`. */
async function processesOf(marker: string): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const pid = Number(entry.name);
    if (pid === Deno.pid) continue;
    const raw = await Deno.readFile(`/proc/${pid}/cmdline`).catch(() => undefined);
    const line = raw ? new TextDecoder().decode(raw).replaceAll("\0", " ").trim() : "";
    const cwd = await Deno.readLink(`/proc/${pid}/cwd`).catch(() => "");
    if (line.includes(marker) || cwd.startsWith(marker)) found.set(pid, line || cwd);
  }
  return found;
}

/** Peak memory (VmHWM) of running hooks, sampled until each ends. */
class MemoryWatch {
  peaks: { job: number; command: string; kb: number }[] = [];
  #running = new Map<number, { job: number; command: string; kb: number }>();
  #stopped = false;
  #loop = (async () => {
    while (!this.#stopped) {
      for (const [pid, entry] of this.#running) {
        const status = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
        const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
        entry.kb = Math.max(entry.kb, kb);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();

  track(run: HookRun, job: number, command: string): Promise<HookResult> {
    const entry = { job, command, kb: 0 };
    this.#running.set(run.hook.pid, entry);
    return run.result.finally(() => {
      this.#running.delete(run.hook.pid);
      if (entry.kb > 0) this.peaks.push(entry);
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

Deno.test({
  name: "soak: many jobs with cancellations and faults leave nothing and lose nothing",
  ignore: !Deno.env.get("KUBEHOOK_SOAK"),
  fn: async () => {
    const seed = testSeed("KUBEHOOK_SOAK_SEED");
    const plans = planJobs(generator(seed));
    await using hc = await HookCluster.start();
    const before = new Set((await processesOf(hc.cluster.stateDir)).keys());
    const registryRelay = `${hc.cluster.stateDir}/registry/`;
    const memory = new MemoryWatch();
    const tally = {
      jobs: 0,
      cancelled: 0,
      steps: 0,
      wrongCode: 0,
      faults: {} as Record<string, number>,
    };
    const problems: string[] = [];

    const runJob = async (plan: JobPlan) => {
      const { sim } = await hc.sim(ENV);
      await using _ = sim;
      const call = async (at: number, start: () => HookRun | Promise<HookRun>, command: string) => {
        const fault = plan.faults[at];
        if (fault) {
          await hc.cluster.addFaults(fault);
          tally.faults[String(fault.kind)] = (tally.faults[String(fault.kind)] ?? 0) + 1;
        }
        const run = await start();
        const cancelled = plan.cancel?.at === at;
        if (cancelled) setTimeout(() => run.hook.cancel(), plan.cancel!.afterMs);
        const result = await memory.track(run, plan.index, command);
        const exit = await run.hook.finished;
        // The runner's SIGINT ends a hook still starting (before it listens) as signals do; only
        // the runner's SIGKILL, 10 s later, means the hook did not end on its signals.
        return { result, cancelled, killed: exit.signal === "SIGKILL" };
      };
      const where = (what: string) => `job ${plan.index} (seed ${seed}), ${what}`;
      try {
        const prepared = await call(
          0,
          () => sim.start("prepare_job", { container: jobContainer("busybox"), services: [] }),
          "prepare_job",
        );
        let goOn = !prepared.cancelled || prepared.result.code === 0;
        if (prepared.killed) problems.push(where(`prepare_job did not exit on SIGINT/SIGTERM`));
        if (!prepared.cancelled && prepared.result.code !== 0) {
          problems.push(where(`prepare_job failed:\n${logOf(prepared.result)}`));
          goOn = false;
        }
        for (let step = 0; goOn && step < STEPS; step++) {
          const outcome = await call(
            step + 1,
            () => sim.startScriptStep(stepScript(step, plan.codes[step])),
            "run_script_step",
          );
          tally.steps++;
          if (outcome.killed) {
            problems.push(
              where(`step ${step} ignored SIGINT and SIGTERM:\n${logOf(outcome.result)}`),
            );
          }
          if (outcome.cancelled) {
            if (outcome.result.code === 0 && plan.codes[step] !== 0) {
              problems.push(where(`cancelled step ${step} reported success`));
            }
            goOn = false;
            continue;
          }
          if (outcome.result.code !== plan.codes[step]) {
            tally.wrongCode++;
            problems.push(
              where(
                `step ${step} exited ${outcome.result.code}, not ${plan.codes[step]}:\n` +
                  logOf(outcome.result),
              ),
            );
          }
          const lines = outcome.result.stdout.split("\n").filter((l) =>
            l.startsWith(`step ${step} line`)
          );
          const expected = Array.from({ length: LINES }, (_, i) => `step ${step} line ${i}`);
          if (JSON.stringify(lines) !== JSON.stringify(expected)) {
            problems.push(
              where(
                `step ${step}'s output was lost or repeated (faults queued for its call: ${
                  JSON.stringify(plan.faults[step + 1] ?? null)
                }):\n${lines.join("\n")}\n${logOf(outcome.result)}`,
              ),
            );
          }
          const ran = await Deno.readTextFile(`${sim.workspace}/ran-${step}`).catch(() => "");
          if (ran !== "run\n") problems.push(where(`step ${step} ran ${ran.length / 4} times`));
        }
        if (plan.cancel) tally.cancelled++;
        const cleaned = await call(STEPS + 1, () => sim.start("cleanup_job", {}), "cleanup_job");
        if (cleaned.result.code !== 0) {
          problems.push(where(`cleanup_job failed:\n${logOf(cleaned.result)}`));
        }
        const stray = await processesOf(sim.root);
        if (stray.size > 0) {
          problems.push(where(`processes left: ${[...stray.values()].join("; ")}`));
        }
      } catch (error) {
        problems.push(where(`the job broke: ${(error as Error).stack}`));
      }
      tally.jobs++;
    };

    const queue = [...plans];
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        for (let plan = queue.shift(); plan; plan = queue.shift()) await runJob(plan);
      }),
    );
    await memory.stop();
    await hc.cluster.clearFaults();
    const left = await hc.leftovers();
    // Pods' processes end after their pods: give the node the grace a deletion has.
    let stray: string[] = [];
    for (let i = 0; i < 100; i++) {
      // The cluster's registry relay starts with the first pull: the cluster's, not a pod's.
      stray = [...(await processesOf(hc.cluster.stateDir)).entries()]
        .filter(([pid, line]) => !before.has(pid) && !line.includes(registryRelay))
        .map(([pid, line]) => `${pid} ${line.slice(0, 200)}`);
      if (stray.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const steps = memory.peaks.filter((p) => p.command === "run_script_step");
    const first = median(steps.slice(0, 10).map((p) => p.kb));
    const last = median(steps.slice(-10).map((p) => p.kb));
    console.log(
      `soak: ${tally.jobs} jobs (${PARALLEL} at a time), ${tally.cancelled} cancelled, ` +
        `${tally.steps} steps, faults ${JSON.stringify(tally.faults)}, steps with a wrong exit ` +
        `code ${tally.wrongCode}, objects left ${left.length}, processes left ${stray.length}; ` +
        `peak hook memory: step median ${Math.round(first / 1024)} MB in the first jobs, ` +
        `${Math.round(last / 1024)} MB in the last, ${
          Math.round(Math.max(...memory.peaks.map((p) => p.kb)) / 1024)
        } MB at most`,
    );
    if (stray.length) console.log(stray.join("\n"));
    assert.deepEqual(problems, [], "the soak found problems");
    assert.deepEqual(left, [], `objects left in namespace "${NAMESPACE}"`);
    assert.deepEqual(stray, [], "processes left by the soak's pods");
    assert.ok(last <= first * 1.25, `hook memory grew from ${first} kB to ${last} kB`);
  },
});
