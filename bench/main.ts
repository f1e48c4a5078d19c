/**
 * `deno task bench`: the project's measured figures. Every `bench/*_bench.ts` module that exports
 * `run(options?: { large?: boolean }): Promise<Figure[]>` is a section; each runs in turn against
 * its own local cluster, and one table shows every figure with its goal, whether it is met, its
 * ratio against a baseline measured in the same run, and upstream's documented figure where there
 * is one. A section that fails is reported and the rest still run; the exit code is then 1.
 *
 * ```sh
 * deno task bench                        # everything (about 3 minutes on 2 cores)
 * deno task bench --only startup,step    # some sections
 * deno task bench --json figures.json    # also write the figures as JSON
 * deno task bench --only copy --large    # also the copy section's 1 GB and 2 GiB parts
 * deno task bench --before /tmp/before    # also an earlier revision's hook, in turns with this one
 * deno task bench --real                  # against the real tier (tests/realcluster), not the embedded cluster
 * ```
 *
 * `--large` is passed to every section's `run({ large: true })`; the `copy` section then adds
 * the 1 GB point of its size curve and peak RSS while copying a 2 GiB tree each way (about 2.5
 * minutes more, and up to 9 GiB in /dev/shm, or on disk when /dev/shm has no room).
 *
 * `--before DIR` names a checkout of another revision (`git worktree add DIR REV`, or `git archive
 * REV | tar x -C DIR`): the `step`, `lifecycle` and `copy` sections then also run that tree's hook
 * (and copy process) in turns with this tree's, in the same job and against the same baselines,
 * and show its figures beside, marked "(--before)". A change is judged by the two in one run.
 *
 * The `job` section (bench/job_bench.ts) is a whole job, prepare_job, three `run:` steps and
 * cleanup_job in a 2,000-file checkout, against the same job scripted with kubectl (apply, wait,
 * `tar | kubectl exec -i`, exec, `kubectl exec tar c | tar x`, delete), phase by phase; it takes
 * neither `--large` nor `--before` (about 40 seconds).
 *
 * Not part of `deno task test`: speed is measured here, never asserted in tests.
 *
 * @module
 */
import { type Figure, formatTable, type Section } from "./figure.ts";

/** The order sections are shown in (the issues' order); sections not listed follow by name. */
const ORDER = ["startup", "step", "lifecycle", "job", "fail_fast", "cluster", "transfer", "copy"];
const SUFFIX = "_bench.ts";
const USAGE =
  "usage: deno task bench [--only SECTION[,SECTION...]] [--json FILE] [--large] [--before DIR] [--real]";

interface Options {
  only?: string[];
  json?: string;
  /** The sections' large parts too (a section's `run` gets `{ large: true }`). */
  large?: boolean;
  /** A checkout of another revision, measured beside this one (a section's `run` gets it). */
  before?: string;
  /** Against the real tier (tests/realcluster) instead of the embedded cluster. */
  real?: boolean;
}

/** One section's outcome, as the JSON file holds it. */
interface SectionResult extends Section {
  seconds: number;
  error?: string;
}

function parseArgs(args: string[]): Options {
  const options: Options = {};
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--large") {
      options.large = true;
      continue;
    }
    if (args[i] === "--real") {
      options.real = true;
      continue;
    }
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    if (flag !== "--only" && flag !== "--json" && flag !== "--before") {
      throw new Error(`unknown argument "${args[i]}"\n${USAGE}`);
    }
    const value = inline ?? args[++i];
    if (!value) throw new Error(`${flag} needs a value\n${USAGE}`);
    if (flag === "--only") options.only = value.split(",").map((s) => s.trim());
    else if (flag === "--before") options.before = value.replace(/\/+$/, "");
    else options.json = value;
  }
  return options;
}

/** The section names of the bench modules beside this file, in {@link ORDER}. */
async function sectionNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(new URL(".", import.meta.url))) {
    if (entry.isFile && entry.name.endsWith(SUFFIX)) {
      names.push(entry.name.slice(0, -SUFFIX.length));
    }
  }
  const rank = (name: string) => ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length;
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

async function runSection(
  section: string,
  large: boolean,
  before?: string,
): Promise<SectionResult> {
  const started = performance.now();
  const seconds = () => Math.round((performance.now() - started) / 100) / 10;
  try {
    const module = await import(new URL(`./${section}${SUFFIX}`, import.meta.url).href);
    if (typeof module.run !== "function") {
      throw new Error(`bench/${section}${SUFFIX} does not export run(): Promise<Figure[]>`);
    }
    const figures: Figure[] = await module.run({ large, before });
    return { section, figures, seconds: seconds() };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { section, figures: [], seconds: seconds(), error: message };
  }
}

async function main(): Promise<number> {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let options: Options;
  try {
    options = parseArgs(Deno.args);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  if (options.before !== undefined) {
    const needed = ["scripts/hook.sh", "bench/copy_process.ts", "deno.json"];
    const missing = needed.filter((file) => {
      try {
        return !Deno.statSync(`${options.before}/${file}`).isFile;
      } catch {
        return true;
      }
    });
    if (missing.length > 0) {
      console.error(
        `--before ${options.before} is not a kubehook checkout: no ${missing.join(", ")}`,
      );
      return 2;
    }
  }
  const available = await sectionNames();
  const unknown = options.only?.filter((name) => !available.includes(name)) ?? [];
  if (unknown.length > 0) {
    console.error(
      `no bench section ${unknown.join(", ")}; the sections are ${available.join(", ")}`,
    );
    return 2;
  }
  // Every section starts its clusters through tests/cluster/harness.ts, which reads the tier here.
  if (options.real) Deno.env.set("KUBEHOOK_TEST_CLUSTER", "real");
  const tier = options.real ? "the real tier" : "the embedded cluster";
  const results: SectionResult[] = [];
  for (const section of available.filter((name) => options.only?.includes(name) ?? true)) {
    console.error(`bench: ${section}...`);
    const result = await runSection(section, options.large ?? false, options.before);
    console.error(`bench: ${section} ${result.error ? "FAILED" : "done"} in ${result.seconds} s`);
    results.push(result);
  }
  const machine = `${navigator.hardwareConcurrency} CPUs, Linux ${Deno.osRelease()}, ` +
    `deno ${Deno.version.deno}`;
  const compared = options.before ? `; "(--before)": ${options.before}` : "";
  console.log(
    `\nkubehook bench on ${tier}, ${new Date().toISOString()}, ${machine}${compared}\n`,
  );
  console.log(formatTable(results));
  const failed = results.filter((r) => r.error);
  for (const { section, error } of failed) console.log(`\n${section} FAILED: ${error}`);
  if (options.json) {
    const large = options.large ?? false;
    const document = {
      date: new Date().toISOString(),
      machine,
      large,
      tier: options.real ? "real" : "embedded",
      before: options.before,
      sections: results,
    };
    await Deno.writeTextFile(options.json, JSON.stringify(document, null, 2) + "\n");
  }
  return failed.length > 0 ? 1 : 0;
}

Deno.exit(await main());
