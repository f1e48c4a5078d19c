/**
 * How the bench measures: wall time with `performance.now()`, peak resident memory of a process
 * with GNU time (`/usr/bin/time -f %M`, the child's maximum RSS as the kernel accounts it), the
 * resident memory of a running process from `/proc`, and medians over repeated runs.
 *
 * ```ts
 * const sample = await runMeasured(["bash", "-e", "scripts/hook.sh", "--version"]);
 * console.log(sample.ms, sample.peakMb);
 * ```
 *
 * @module
 */

/** GNU time; Debian's package `time`. */
export const GNU_TIME = "/usr/bin/time";

/** Throws, saying how to install it, when GNU time is missing. */
export async function requireGnuTime(): Promise<void> {
  if (await Deno.stat(GNU_TIME).catch(() => undefined)) return;
  throw new Error(
    `${GNU_TIME} is missing; the bench reads peak memory from GNU time. ` +
      "Install it with 'apt-get install -y time' (Debian/Ubuntu) and run the bench again.",
  );
}

/** One measured process run. */
export interface ProcessSample {
  /** Wall time from spawn to exit. */
  ms: number;
  /** Peak resident memory of the process (the largest process of its tree, not the sum). */
  peakMb: number;
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command` under GNU time and returns its wall time and peak RSS. */
export async function runMeasured(
  command: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<ProcessSample> {
  const report = await Deno.makeTempFile({ prefix: "kubehook-bench-time-" });
  try {
    const started = performance.now();
    const output = await new Deno.Command(GNU_TIME, {
      args: ["-f", "%M", "-o", report, ...command],
      cwd: options.cwd,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const ms = performance.now() - started;
    const decoder = new TextDecoder();
    return {
      ms,
      peakMb: peakMbFromReport(await Deno.readTextFile(report)),
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    await Deno.remove(report);
  }
}

/** Which hook a {@link MeasuredHook} runs: this tree's, or the `--before` tree's. */
export type HookTree = "this" | "before";

/** A stand-in for scripts/hook.sh that the simulator runs as its hook. */
export interface MeasuredHook {
  wrapper: string;
  /** GNU time's report: one line per call (read the last with {@link peakMbFromReport}). */
  report: string;
  /** Makes the next calls run `tree`'s scripts/hook.sh (this tree's at first). */
  use(tree: HookTree): Promise<void>;
}

/** A stand-in for scripts/hook.sh that runs it under GNU time, appending each call's peak RSS to
 * `report` (`timed` false: without GNU time, and no report). With `before` (the root of a
 * checkout of another revision, `deno task bench --before DIR`), {@link MeasuredHook.use}
 * switches between this tree's hook and that one's, so the same job measures both in turns. */
export async function measuredHook(
  dir: string,
  before?: string,
  timed = true,
): Promise<MeasuredHook> {
  const hooks: Record<HookTree, string> = {
    this: new URL("../scripts/hook.sh", import.meta.url).pathname,
    before: `${before}/scripts/hook.sh`,
  };
  const report = `${dir}/time.txt`;
  const wrapper = `${dir}/hook.sh`;
  const target = `${dir}/hook-target`;
  const use = async (tree: HookTree) => {
    if (tree === "before" && before === undefined) throw new Error("no --before tree was given");
    await Deno.writeTextFile(target, hooks[tree]);
  };
  await use("this");
  // bash reads the target without another process; the runner runs the hook with bash too.
  const time = timed ? `${GNU_TIME} -a -o '${report}' -f %M ` : "";
  await Deno.writeTextFile(wrapper, `exec ${time}bash -e "$(<'${target}')" "$@"\n`);
  return { wrapper, report, use };
}

/** Runs each of `steps` once, starting with the one after the start of the previous round
 * (`round` 0, 1, 2...): no side always goes first. */
export async function inTurns(round: number, ...steps: (() => Promise<void>)[]): Promise<void> {
  for (let k = 0; k < steps.length; k++) await steps[(round + k) % steps.length]();
}

/** The last `%M` line GNU time wrote (KiB), in MB. With `-a` a report holds one line per run. */
export function peakMbFromReport(report: string): number {
  const lines = report.trim().split("\n");
  const kib = Number(lines.at(-1));
  if (!Number.isFinite(kib) || lines.at(-1) === "") {
    throw new Error(`GNU time wrote no peak memory figure; its report was: ${report}`);
  }
  return kib / 1024;
}

/** The resident memory of a running process, from `/proc/<pid>/status` (VmRSS), in MB. */
export async function residentMb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = status.match(/^VmRSS:\s+(\d+) kB$/m)?.[1];
  if (kib === undefined) throw new Error(`/proc/${pid}/status has no VmRSS line`);
  return Number(kib) / 1024;
}

/** Every process below `pid` (children, their children...), from `/proc/<pid>/stat`. */
export async function descendants(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
    // The command name may contain spaces and parentheses; the fields after its last ")" do not.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (!Number.isFinite(ppid)) continue;
    parents.set(ppid, [...parents.get(ppid) ?? [], Number(entry.name)]);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const children = parents.get(queue.pop()!) ?? [];
    found.push(...children);
    queue.push(...children);
  }
  return found;
}

/** Wall time of `fn`, in ms. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** The median of `samples` (the lower middle one for an even count). */
export function median(samples: number[]): number {
  if (samples.length === 0) throw new RangeError("median of no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** Rounds to `digits` decimals, for figures that should not print noise. */
export function round(value: number, digits = 0): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Median wall time of `command` over `runs` runs (one unmeasured run first, for warm caches):
 * a baseline measured in the same run as the figure it is compared with. */
export async function medianMs(
  command: string[],
  runs: number,
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const sample = await runMeasured(command, options);
    if (sample.code !== 0) {
      throw new Error(`${command.join(" ")} exited with ${sample.code}: ${sample.stderr}`);
    }
    if (i > 0) samples.push(sample.ms);
  }
  return median(samples);
}

/** An empty Deno program, the floor of any Deno process: `deno run` of an empty file. */
export async function emptyDenoProgram(dir: string): Promise<string[]> {
  const empty = `${dir}/empty.ts`;
  await Deno.writeTextFile(empty, "");
  return ["deno", "run", "-A", "--no-lock", "--quiet", empty];
}

/** Whether `kubectl` runs here (the same-run baselines that use it are skipped without it). */
export async function hasKubectl(): Promise<boolean> {
  return await new Deno.Command("kubectl", { args: ["version", "--client"], stdout: "null" })
    .output().then((o) => o.success, () => false);
}
