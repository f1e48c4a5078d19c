/**
 * Failing fast (issue 4; what-users-suffer-today item 3): the time from the start of prepare_job
 * to its failure when the job container's image cannot be pulled (`nginxx:latest`), against
 * upstream, which waits out its 600 s timeout. The hook must fail, and say why.
 *
 * Run alone: `deno run -A bench/fail_fast_bench.ts`.
 *
 * @module
 */
import { jobContainer } from "../tests/support/runner_sim.ts";
import { expectSuccess, startBenchJob } from "./bench_job.ts";
import type { Figure } from "./figure.ts";
import { round } from "./measure.ts";

const IMAGE = "nginxx:latest";

export async function run(): Promise<Figure[]> {
  await using job = await startBenchJob({ runnerPod: "bench-fail-fast" });
  const started = performance.now();
  const prepared = await job.sim.prepareJob({ container: jobContainer(IMAGE), services: [] });
  const seconds = (performance.now() - started) / 1000;
  if (prepared.code === 0) {
    throw new Error(`prepare_job succeeded with the image "${IMAGE}", which does not exist`);
  }
  // cleanup_job must succeed after a prepare_job that failed half-way.
  expectSuccess("cleanup_job after the failed prepare_job", await job.sim.cleanupJob());
  // The runner shows the hook's `::error::` line, on stdout or stderr; a failure for any other
  // reason (a crash, say) would make the time meaningless.
  const output = `${prepared.stdout}\n${prepared.stderr}`;
  const reason = output.split("\n").find((line) => line.startsWith("::error::"));
  if (!reason?.includes(IMAGE)) {
    throw new Error(
      `prepare_job failed, but its error does not name the image "${IMAGE}":\n${output}`,
    );
  }
  return [{
    name: `prepare_job with a wrong image (${IMAGE}): time to failure`,
    value: round(seconds, 2),
    unit: "s",
    goal: "≤ 10",
    documented: { value: 600, source: "upstream's timeout" },
    note: `exit code ${prepared.code}; ${reason}`,
  }];
}

if (import.meta.main) {
  const { formatTable } = await import("./figure.ts");
  console.log(formatTable([{ section: "fail-fast", figures: await run() }]));
}
