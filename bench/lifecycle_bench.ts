/**
 * A job's two ends (issue 4): prepare_job for a job container and one service (`debian:12` with
 * `nginx:latest` on port 80; the job pod is Ready, the workspace is in it, the response written)
 * and cleanup_job (workspace copied back, pod and secrets deleted and gone), wall time as the
 * runner sees it, median of {@link JOBS} jobs, with the API requests each call made.
 *
 * With `--before DIR` (bench/main.ts), cleanup_job with nothing to clean also runs the other
 * tree's hook, in turns with this one's.
 *
 * Run alone: `deno run -A bench/lifecycle_bench.ts`.
 *
 * @module
 */
import { jobContainer, serviceContainer } from "../tests/support/runner_sim.ts";
import {
  accessReviews,
  expectSuccess,
  requestBreakdown,
  startBenchJob,
  type StatsSnapshot,
} from "./bench_job.ts";
import { beforeFigure, type Figure } from "./figure.ts";
import {
  emptyDenoProgram,
  type HookTree,
  inTurns,
  measuredHook,
  median,
  medianMs,
  round,
  timed,
} from "./measure.ts";
import { RUNS } from "./startup_bench.ts";

/** Jobs prepared and cleaned up; the median is reported. */
const JOBS = 3;

export async function run(options: { before?: string } = {}): Promise<Figure[]> {
  const dir = await Deno.makeTempDir({ prefix: "kubehook-bench-lifecycle-" });
  try {
    return await measure(dir, options.before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function measure(dir: string, before: string | undefined): Promise<Figure[]> {
  // The hook as it is (no GNU time), switchable to the --before tree's.
  const hook = await measuredHook(dir, before, false);
  await using job = await startBenchJob({ runnerPod: "bench-lifecycle", hook: hook.wrapper });
  const calls = [
    {
      label: "prepare_job (debian:12 + nginx service)",
      call: () =>
        job.sim.prepareJob({
          container: jobContainer("debian:12"),
          services: [serviceContainer("nginx:latest", { portMappings: ["80"] })],
        }),
    },
    { label: "cleanup_job", call: () => job.sim.cleanupJob() },
  ];
  const samples = calls.map(() => ({
    ms: [] as number[],
    stats: undefined as StatsSnapshot | undefined,
  }));
  for (let i = 0; i < JOBS; i++) {
    for (const [index, { label, call }] of calls.entries()) {
      await job.resetStats();
      samples[index].ms.push(await timed(async () => expectSuccess(label, await call())));
      samples[index].stats = await job.stats();
    }
  }
  // Nothing left to clean: the hook's fixed cost, against the floor of any Deno process.
  const nothing: Record<HookTree, number[]> = { this: [], before: [] };
  const trees: HookTree[] = before ? ["this", "before"] : ["this"];
  // A runner that starts a job's cleanup with no job state (prepare_job never ran).
  job.sim.state = null;
  for (let i = 0; i < RUNS; i++) {
    await inTurns(
      i,
      ...trees.map((tree) => async () => {
        await hook.use(tree);
        nothing[tree].push(
          await timed(async () => expectSuccess("cleanup_job", await job.sim.cleanupJob())),
        );
      }),
    );
  }
  await hook.use("this");
  const empty = await medianMs(await emptyDenoProgram(dir), RUNS);
  const runs = (values: number[]) => `runs ${values.map((v) => round(v)).join(", ")} ms`;
  const idle: Figure = {
    name: `cleanup_job with nothing to clean: wall time (median of ${RUNS})`,
    value: round(median(nothing.this)),
    unit: "ms",
    goal: "≤ 4×",
    baseline: { value: round(empty), source: "an empty Deno program, same run" },
    note: runs(nothing.this),
  };
  return [
    ...calls.flatMap(({ label }, index) => {
      const stats = samples[index].stats!;
      return [
        {
          name: `${label}: wall time (median of ${JOBS})`,
          value: round(median(samples[index].ms)),
          unit: "ms",
        },
        {
          name: `${label}: API requests`,
          value: stats.total,
          unit: "",
          note: `${requestBreakdown(stats)}; exec sessions: ${stats.execSessions}`,
        },
        {
          name: `${label}: access reviews`,
          value: accessReviews(stats),
          unit: "",
          goal: "0",
          documented: { value: 13, source: "upstream" },
        },
      ];
    }),
    idle,
    ...(before ? [beforeFigure(idle, round(median(nothing.before)), runs(nothing.before))] : []),
  ];
}

if (import.meta.main) {
  const { formatTable } = await import("./figure.ts");
  console.log(formatTable([{ section: "lifecycle", figures: await run() }]));
}
