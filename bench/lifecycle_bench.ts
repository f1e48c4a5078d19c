/**
 * A job's two ends (issue 4): prepare_job for a job container and one service (`debian:12` with
 * `nginx:latest` on port 80; the job pod is Ready, the workspace is in it, the response written)
 * and cleanup_job (workspace copied back, pod and secrets deleted and gone), wall time as the
 * runner sees it, median of {@link JOBS} jobs, with the API requests each call made.
 *
 * cleanup_job with nothing to clean is set against an empty Deno program (the goal's baseline) and
 * against the floor of what it must do: a Deno program of its own that makes the same two list
 * requests with kubehook's client (TLS warmed up as the hook does), in turns with the hook.
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
const RUNNER_POD = "bench-lifecycle";

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
  await using job = await startBenchJob({ runnerPod: RUNNER_POD, hook: hook.wrapper });
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
  const lists = await listsProgram(dir, job.cluster.kubeconfigPath);
  const floor: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await inTurns(
      i,
      ...trees.map((tree) => async () => {
        await hook.use(tree);
        nothing[tree].push(
          await timed(async () => expectSuccess("cleanup_job", await job.sim.cleanupJob())),
        );
      }),
      async () => void floor.push(await timed(lists)),
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
    note: `${runs(nothing.this)}; the same two list requests from a Deno program of their own ` +
      `(kubehook's client, TLS warmed up): ${round(median(floor))} ms, ${runs(floor)}`,
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

/** A Deno program that makes cleanup_job's two requests when there is nothing to clean (the pods
 * and secrets labelled for the bench's runner pod) and nothing else: a function that runs it once
 * and throws when it fails. */
async function listsProgram(dir: string, kubeconfig: string): Promise<() => Promise<void>> {
  const src = new URL("../src/", import.meta.url).href;
  const program = `${dir}/lists.ts`;
  await Deno.writeTextFile(
    program,
    `import { warmUpTls } from "${src}kube/warm_up.ts";
warmUpTls();
const [{ loadKubeAccess }, { KubeClient }, { podsPath, secretsPath }, { runnerSelector }] =
  await Promise.all([
    import("${src}kube/config.ts"),
    import("${src}kube/client.ts"),
    import("${src}kube/paths.ts"),
    import("${src}pod/metadata.ts"),
  ]);
const access = await loadKubeAccess(Deno.env.toObject());
const client = new KubeClient(access);
const labelSelector = runnerSelector("${RUNNER_POD}");
await Promise.all([
  client.list(podsPath(access.namespace), { labelSelector }),
  client.list(secretsPath(access.namespace), { labelSelector }),
]);
client.close();
`,
  );
  const config = new URL("../deno.json", import.meta.url).pathname;
  return async () => {
    const output = await new Deno.Command("deno", {
      args: ["run", "-A", "--quiet", "--config", config, program],
      env: { KUBECONFIG: kubeconfig, KUBEHOOK_CONTEXT: "runner" },
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(
        `the list requests' program failed: ${new TextDecoder().decode(output.stderr)}`,
      );
    }
  };
}

if (import.meta.main) {
  const { formatTable } = await import("./figure.ts");
  console.log(formatTable([{ section: "lifecycle", figures: await run() }]));
}
