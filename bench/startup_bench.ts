/**
 * Hook start-up (issue 4, "start-up is on the hot path of every step"): wall time and peak RSS of
 * `bash -e scripts/hook.sh --version` (what the runner starts, through the shim), of
 * `deno run -A src/main.ts --version` (the program alone) and of the bundle (as released where no
 * compiled binary is), the median of {@link RUNS} runs each, against an empty Deno program measured
 * in the same run (goal ≤ 1.5×), with upstream's documented 0.7 s and ~145 MB per invocation
 * beside them (what-users-suffer-today, item 10; not measured here). When `deno task compile` has
 * built `dist/kubehook-<this target>`, the compiled binary is measured too.
 *
 * Run alone: `deno run -A bench/startup_bench.ts`.
 *
 * @module
 */
import { bundleTo } from "../tests/distribution/support.ts";
import type { Figure } from "./figure.ts";
import {
  emptyDenoProgram,
  median,
  medianMs,
  requireGnuTime,
  round,
  runMeasured,
} from "./measure.ts";

/** Runs per command; the median is reported. */
export const RUNS = 15;

/** Upstream's per-invocation start-up cost. */
export const UPSTREAM_START_MS = { value: 700, source: "upstream, 0.7–0.9 s" };
export const UPSTREAM_START_MB = { value: 145, source: "upstream, ~145 MB" };

const repo = new URL("..", import.meta.url).pathname;

export async function run(): Promise<Figure[]> {
  await requireGnuTime();
  const dir = await Deno.makeTempDir({ prefix: "kubehook-bench-startup-" });
  try {
    return await measure(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function measure(dir: string): Promise<Figure[]> {
  // As released without a compiled binary: the bundle, one file with everything in it.
  const bundle = `${dir}/kubehook.js`;
  const bundled = await bundleTo(bundle);
  if (bundled.code !== 0) throw new Error(bundled.stderr);
  const empty = {
    value: round(await medianMs(await emptyDenoProgram(dir), RUNS)),
    source: "an empty Deno program",
  };
  const commands: [string, string[]][] = [
    ["bash -e scripts/hook.sh --version", ["bash", "-e", "scripts/hook.sh", "--version"]],
    ["deno run -A src/main.ts --version", ["deno", "run", "-A", "src/main.ts", "--version"]],
    [
      "the bundle: deno run -A kubehook.js --version",
      ["deno", "run", "-A", "--no-lock", bundle, "--version"],
    ],
  ];
  const binary = `dist/kubehook-${Deno.build.target}`;
  if (await Deno.stat(`${repo}/${binary}`).catch(() => undefined)) {
    commands.push([`${binary} --version`, [`./${binary}`, "--version"]]);
  }
  const figures: Figure[] = [];
  for (const [label, command] of commands) {
    const samples = [];
    // One unmeasured run first, so Deno's module cache is warm as it is on a runner.
    for (let i = 0; i <= RUNS; i++) {
      const sample = await runMeasured(command, { cwd: repo });
      if (sample.code !== 0) {
        throw new Error(`${label} exited with ${sample.code}: ${sample.stderr}`);
      }
      if (i > 0) samples.push(sample);
    }
    figures.push(
      {
        name: `${label}: wall time (median of ${RUNS})`,
        value: round(median(samples.map((s) => s.ms))),
        unit: "ms",
        goal: "≤ 1.5×",
        baseline: empty,
        documented: UPSTREAM_START_MS,
      },
      {
        name: `${label}: peak RSS (median of ${RUNS})`,
        value: round(median(samples.map((s) => s.peakMb)), 1),
        unit: "MB",
        documented: UPSTREAM_START_MB,
      },
    );
  }
  return figures;
}

if (import.meta.main) {
  const { formatTable } = await import("./figure.ts");
  console.log(formatTable([{ section: "startup", figures: await run() }]));
}
