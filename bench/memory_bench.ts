/**
 * Memory while moving a large workspace (issue 5: "memory stays flat for a 2 GB workspace"): peak
 * RSS of prepare_job copying a workspace with one {@link LARGE_MIB} MiB file into the pod, and of
 * cleanup_job bringing all of it back (KUBEHOOK_COPY_BACK=all) through the host's safe extractor,
 * next to the same hooks on an empty workspace. Flat means the large figures stay near the small
 * ones: the bytes stream through, they never gather in memory.
 *
 * The file is sparse on the host (no disk cost to make it); the pod and the copy back write it for
 * real.
 *
 * Run alone: `deno run -A bench/memory_bench.ts`.
 *
 * @module
 */
import { jobContainer } from "../tests/support/runner_sim.ts";
import { expectSuccess, startBenchJob } from "./bench_job.ts";
import type { Figure } from "./figure.ts";
import { measuredHook, peakMbFromReport, requireGnuTime, round } from "./measure.ts";

/** Size of the large file. */
const LARGE_MIB = 2048;
/** Flat: the large workspace may cost at most this much more memory than an empty one. */
const FLAT_MARGIN_MB = 40;

export async function run(): Promise<Figure[]> {
  await requireGnuTime();
  const small = await peaks(0);
  const large = await peaks(LARGE_MIB);
  const figure = (hook: string, i: number): Figure[] => [
    { name: `${hook}, empty workspace: peak RSS`, value: round(small[i], 1), unit: "MB" },
    {
      name: `${hook}, ${LARGE_MIB} MiB workspace: peak RSS`,
      value: round(large[i], 1),
      unit: "MB",
      goal: `≤ ${round(small[i] + FLAT_MARGIN_MB, 1)}`,
      note: `flat: at most ${FLAT_MARGIN_MB} MB above the empty workspace's figure`,
    },
  ];
  return [...figure("prepare_job copy to pod", 0), ...figure("cleanup_job copy back (all)", 1)];
}

/** Peak RSS (MB) of prepare_job and of cleanup_job for a workspace holding `mib` MiB. */
async function peaks(mib: number): Promise<[number, number]> {
  const dir = await Deno.makeTempDir({ prefix: "kubehook-bench-memory-" });
  try {
    const { wrapper, report } = await measuredHook(dir);
    await using job = await startBenchJob({
      runnerPod: `bench-memory-${mib}`,
      hook: wrapper,
      env: { KUBEHOOK_COPY_BACK: "all" },
    });
    if (mib > 0) {
      const file = await Deno.open(`${job.sim.workspace}/large.bin`, { create: true, write: true });
      await file.truncate(mib * 1024 * 1024);
      file.close();
    }
    const container = jobContainer("debian:12");
    expectSuccess("prepare_job", await job.sim.prepareJob({ container, services: [] }));
    const prepare = peakMbFromReport(await Deno.readTextFile(report));
    await Deno.remove(`${job.sim.workspace}/large.bin`).catch(() => {});
    expectSuccess("cleanup_job", await job.sim.cleanupJob());
    const cleanup = peakMbFromReport(await Deno.readTextFile(report));
    return [prepare, cleanup];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) console.table(await run());
