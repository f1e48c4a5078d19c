/**
 * One `run:` step (issue 4): a complete run_script_step invocation of `echo hi` in a prepared job
 * pod, as the runner makes it — wall time and peak RSS, median of {@link RUNS} steps — and what
 * each step cost the API server: requests, exec sessions (goal ≤ 2 in the normal case; upstream
 * makes about 7, what-users-suffer-today item 2) and SelfSubjectAccessReviews (goal 0; upstream
 * sends 13 per call, item 10).
 *
 * Peak RSS comes from GNU time wrapped around the hook: the simulator runs a one-line wrapper
 * that appends each run's `%M` to a report file.
 *
 * With `--before DIR` (bench/main.ts) the other tree's hook runs every other step of the same job,
 * in turns with this one's, and its wall time and peak RSS are shown beside.
 *
 * Run alone: `deno run -A bench/step_bench.ts`.
 *
 * @module
 */
import { jobContainer } from "../tests/support/runner_sim.ts";
import { accessReviews, expectSuccess, requestBreakdown, startBenchJob } from "./bench_job.ts";
import { beforeFigure, type Figure } from "./figure.ts";
import {
  hasKubectl,
  type HookTree,
  inTurns,
  measuredHook,
  median,
  medianMs,
  peakMbFromReport,
  requireGnuTime,
  round,
} from "./measure.ts";
import { RUNS, UPSTREAM_START_MB, UPSTREAM_START_MS } from "./startup_bench.ts";

export async function run(options: { before?: string } = {}): Promise<Figure[]> {
  await requireGnuTime();
  const dir = await Deno.makeTempDir({ prefix: "kubehook-bench-step-" });
  const hook = await measuredHook(dir, options.before);
  const { wrapper, report } = hook;
  const trees: HookTree[] = options.before ? ["this", "before"] : ["this"];
  try {
    await using job = await startBenchJob({ runnerPod: "bench-step", hook: wrapper });
    expectSuccess(
      "prepare_job (debian:12)",
      await job.sim.prepareJob({ container: jobContainer("debian:12"), services: [] }),
    );
    // One unmeasured step first: the first sync of a job moves more than later ones do.
    expectSuccess("the first step", await job.sim.scriptStep("echo hi"));
    const wall: Record<HookTree, number[]> = { this: [], before: [] };
    const peak: Record<HookTree, number[]> = { this: [], before: [] };
    const requests: number[] = [];
    const execs: number[] = [];
    const reviews: number[] = [];
    let last;
    for (let i = 0; i < RUNS; i++) {
      await inTurns(
        i,
        ...trees.map((tree) => async () => {
          await hook.use(tree);
          await job.resetStats();
          const started = performance.now();
          const step = expectSuccess(
            "run_script_step 'echo hi'",
            await job.sim.scriptStep("echo hi"),
          );
          wall[tree].push(performance.now() - started);
          if (!step.stdout.includes("hi")) {
            throw new Error(`the step's output did not reach the job log: ${step.stdout}`);
          }
          peak[tree].push(peakMbFromReport(await Deno.readTextFile(report)));
          if (tree !== "this") return;
          last = await job.stats();
          requests.push(last.total);
          execs.push(last.execSessions);
          reviews.push(accessReviews(last));
        }),
      );
    }
    await hook.use("this");
    // The same command in the same pod through kubectl, the Go client, on the same websockets.
    const kubectl = await hasKubectl()
      ? {
        value: round(
          await medianMs([
            "kubectl",
            "--kubeconfig",
            job.cluster.kubeconfigPath,
            "--context",
            "runner",
            "exec",
            "bench-step-workflow",
            "-c",
            "job",
            "--",
            "echo",
            "hi",
          ], RUNS),
        ),
        source: "kubectl exec POD -c job -- echo hi, same run",
      }
      : undefined;
    expectSuccess("cleanup_job", await job.sim.cleanupJob());
    const runs = (values: number[], unit: string) =>
      `runs ${values.map((v) => round(v, unit === "MB" ? 1 : 0)).join(", ")} ${unit}`;
    const wallFigure: Figure = {
      name: `run_script_step 'echo hi': wall time (median of ${RUNS})`,
      value: round(median(wall.this)),
      unit: "ms",
      goal: "≤ 1.5×",
      ...(kubectl ? { baseline: kubectl } : {}),
      documented: UPSTREAM_START_MS,
      note: "upstream's figure is its start-up alone, before any request" +
        (kubectl ? "" : "; no kubectl here, so no same-run baseline") +
        `; ${runs(wall.this, "ms")}`,
    };
    const peakFigure: Figure = {
      name: `run_script_step 'echo hi': peak RSS (median of ${RUNS})`,
      value: round(median(peak.this), 1),
      unit: "MB",
      documented: UPSTREAM_START_MB,
    };
    return [
      wallFigure,
      ...(options.before
        ? [beforeFigure(wallFigure, round(median(wall.before)), runs(wall.before, "ms"))]
        : []),
      peakFigure,
      ...(options.before ? [beforeFigure(peakFigure, round(median(peak.before), 1))] : []),
      {
        name: "API requests per step (max)",
        value: Math.max(...requests),
        unit: "",
        note: last && requestBreakdown(last),
      },
      {
        name: "exec sessions per step (max)",
        value: Math.max(...execs),
        unit: "",
        goal: "≤ 2",
        documented: { value: 7, source: "upstream, about 7" },
      },
      {
        name: "access reviews per step (max)",
        value: Math.max(...reviews),
        unit: "",
        goal: "0",
        documented: { value: 13, source: "upstream" },
      },
    ];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const { formatTable } = await import("./figure.ts");
  console.log(formatTable([{ section: "step", figures: await run() }]));
}
