/**
 * One container step (issue 11): `uses: docker://busybox` printing `hi`, run as an ephemeral
 * container of a prepared job pod — wall time of the whole hook call, median of {@link RUNS} —
 * against the baseline measured in the same run on the same job: a script step `echo hi`. Also
 * what a container step costs the API server (requests, exec sessions: one carries the runner's
 * changes in, one brings the action's back).
 *
 * Run alone: `deno run -A bench/container_step_bench.ts`.
 *
 * @module
 */
import { containerOf } from "../src/runner/input.ts";
import { jobContainer, runnerArgs } from "../tests/support/runner_sim.ts";
import { expectSuccess, requestBreakdown, startBenchJob } from "./bench_job.ts";
import type { Figure } from "./figure.ts";
import { median, round } from "./measure.ts";
import { RUNS } from "./startup_bench.ts";

export async function run(): Promise<Figure[]> {
  await using job = await startBenchJob({ runnerPod: "bench-container-step" });
  expectSuccess(
    "prepare_job (debian:12)",
    await job.sim.prepareJob({ container: jobContainer("debian:12"), services: [] }),
  );
  const step = containerOf("busybox:1.36", {
    entryPoint: "echo",
    entryPointArgs: runnerArgs(["hi"]),
  });
  // Unmeasured first: the image pull and the first sync belong to no step in particular.
  expectSuccess("the first container step", await job.sim.containerStep(step));
  expectSuccess("the first script step", await job.sim.scriptStep("echo hi"));
  const container: number[] = [];
  const script: number[] = [];
  const execs: number[] = [];
  let last;
  for (let i = 0; i < RUNS; i++) {
    await job.resetStats();
    let started = performance.now();
    const result = expectSuccess("run_container_step", await job.sim.containerStep(step));
    container.push(performance.now() - started);
    if (!result.stdout.includes("hi")) {
      throw new Error(`the action's output did not reach the job log: ${result.stdout}`);
    }
    last = await job.stats();
    execs.push(last.execSessions);
    started = performance.now();
    expectSuccess("run_script_step", await job.sim.scriptStep("echo hi"));
    script.push(performance.now() - started);
  }
  expectSuccess("cleanup_job", await job.sim.cleanupJob());
  return [
    {
      name: `run_container_step docker://busybox 'echo hi': wall time (median of ${RUNS})`,
      value: round(median(container)),
      unit: "ms",
      baseline: { value: round(median(script)), source: "a script step 'echo hi', same run" },
    },
    {
      name: "API requests per container step (last)",
      value: last?.total ?? 0,
      unit: "",
      note: last && requestBreakdown(last),
    },
    {
      name: "exec sessions per container step (max)",
      value: Math.max(...execs),
      unit: "",
      goal: "≤ 2",
      documented: { value: 7, source: "upstream's copy-and-exec of a step, about 7" },
    },
  ];
}

if (import.meta.main) {
  const { formatTable } = await import("./figure.ts");
  console.log(formatTable([{ section: "container step", figures: await run() }]));
}
