/**
 * `deno task compile`: builds the self-contained `kubehook` executables that a release ships, one
 * per Linux architecture, as `dist/kubehook-<target>`.
 *
 * `deno compile` puts the program into `denort`, a runtime-only Deno build. It downloads denort
 * for each target from Deno's download host on first use and keeps the zip under DENO_DIR. Without
 * network access it needs that file from somewhere else, in one of two ways:
 * - `DENORT_BIN=/path/to/denort`: Deno reads this one file whatever `--target` says (it is not
 *   per target), so this script checks the file's architecture and builds only the matching target;
 * - the unchanged zip placed where the download would have gone (its path is printed below).
 * This script finds out which applies before compiling, so a machine without network access gets
 * the remedy in a second instead of a stack trace.
 *
 * The commit is baked in as `KUBEHOOK_COMMIT` (an env file that `deno compile` embeds in the
 * binary); the version comes from deno.json, which `src/main.ts` imports.
 *
 * No musl (Alpine) build: Deno 2.9.6's `deno compile --target` accepts only glibc Linux targets.
 *
 * Usage: `deno task compile [--target x86_64-unknown-linux-gnu|aarch64-unknown-linux-gnu]
 * [--out-dir DIR]`
 *
 * @module
 */

/** Release targets, with the ELF `e_machine` value of binaries built for each. */
const TARGETS = {
  "x86_64-unknown-linux-gnu": 62,
  "aarch64-unknown-linux-gnu": 183,
} as const;
type Target = keyof typeof TARGETS;

/** V8's flags for kubehook, the same as scripts/hook.sh gives `deno run`: a young generation of
 * 1 MB instead of up to 16, and an old generation that grows in small steps
 * (`--optimize-for-size`), so what a copy allocates is collected soon. Copying 2 GiB back peaked
 * at 76 MB without them, 64 MB with them, at no CPU cost measured (docs/performance.md, "the
 * remaining goals"). */
export const V8_FLAGS = "--max-semi-space-size=1,--optimize-for-size";

/** Long enough for a slow but working connection, short enough not to stall a machine without one. */
const PROBE_TIMEOUT_MS = 5_000;

const root = new URL("..", import.meta.url);
const denoVersion = Deno.version.deno;

/** Where `deno compile` downloads denort for a target. */
function downloadUrl(target: Target): string {
  return `https://dl.deno.land/release/v${denoVersion}/denort-${target}.zip`;
}

/** The same file on GitHub's release page, for machines that reach GitHub but not Deno's host. */
function githubUrl(target: Target): string {
  return `https://github.com/denoland/deno/releases/download/v${denoVersion}/denort-${target}.zip`;
}

class CompileError extends Error {}

interface Options {
  /** Targets asked for with --target; all when undefined. */
  targets?: Target[];
  /** Where the executables go (--out-dir); the repository's dist/ by default. */
  outDir: string;
}

const USAGE = `Usage: deno task compile [--target T] [--out-dir DIR], T one of ${
  Object.keys(TARGETS).join(", ")
}.`;

function parseArgs(args: string[]): Options {
  const options: Options = { outDir: `${decodeURIComponent(root.pathname)}dist` };
  for (let i = 0; i < args.length; i++) {
    const equals = args[i].indexOf("=");
    const flag = equals > 0 ? args[i].slice(0, equals) : args[i];
    if (flag !== "--target" && flag !== "--out-dir") {
      throw new CompileError(`unexpected argument "${args[i]}". ${USAGE}`);
    }
    const value = equals > 0 ? args[i].slice(equals + 1) : args[++i];
    if (!value) throw new CompileError(`${flag} needs a value. ${USAGE}`);
    if (flag === "--out-dir") {
      options.outDir = value;
    } else if (value in TARGETS) {
      options.targets = [value as Target];
    } else {
      throw new CompileError(
        `unknown target "${value}": kubehook is built for ${Object.keys(TARGETS).join(" and ")}. ` +
          `(Deno ${denoVersion} cannot compile for musl/Alpine.)`,
      );
    }
  }
  return options;
}

/** The target a denort binary was built for, read from its ELF header. */
async function elfTarget(path: string): Promise<Target | undefined> {
  const header = new Uint8Array(20);
  const file = await Deno.open(path);
  try {
    const read = await file.read(header);
    if (read !== header.length) return undefined;
  } finally {
    file.close();
  }
  const isElf = header[0] === 0x7f && header[1] === 0x45 && header[2] === 0x4c &&
    header[3] === 0x46;
  if (!isElf) return undefined;
  const machine = header[18] | (header[19] << 8);
  return (Object.keys(TARGETS) as Target[]).find((target) => TARGETS[target] === machine);
}

/** Targets to build with `DENORT_BIN`: the one its architecture serves, checked against a request. */
async function targetsForDenortBin(path: string, requested?: Target[]): Promise<Target[]> {
  let target: Target | undefined;
  try {
    target = await elfTarget(path);
  } catch (error) {
    throw new CompileError(
      `DENORT_BIN=${path} cannot be read (${(error as Error).message}). Point it at the denort ` +
        `binary unzipped from denort-<target>.zip, or unset it to let deno compile download one.`,
    );
  }
  if (target === undefined) {
    throw new CompileError(
      `DENORT_BIN=${path} is not a Linux x86_64 or aarch64 executable. Point it at the denort ` +
        `binary unzipped from ${downloadUrl("x86_64-unknown-linux-gnu")} (or the aarch64 zip).`,
    );
  }
  if (requested && requested[0] !== target) {
    throw new CompileError(
      `DENORT_BIN=${path} is built for ${target} but --target ${requested[0]} was asked for; ` +
        `deno compile uses DENORT_BIN for every target, so point it at the denort from ` +
        `${downloadUrl(requested[0])}.`,
    );
  }
  if (!requested) {
    console.log(`DENORT_BIN is built for ${target}: building ${target} only.`);
  }
  return [target];
}

async function run(command: string[], cwd = root): Promise<{ ok: boolean; stdout: string }> {
  const output = await new Deno.Command(command[0], {
    args: command.slice(1),
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { ok: output.success, stdout: new TextDecoder().decode(output.stdout).trim() };
}

/** Where deno compile caches the denort zip it downloads for a target. */
async function cachedZipPath(target: Target): Promise<string> {
  const info = await run([Deno.execPath(), "info", "--json"]);
  const denoDir = info.ok ? (JSON.parse(info.stdout) as { denoDir?: string }).denoDir : undefined;
  if (!denoDir) {
    throw new CompileError(
      `"deno info --json" did not name DENO_DIR; is Deno ${denoVersion} sane?`,
    );
  }
  return `${denoDir}/dl/release/v${denoVersion}/denort-${target}.zip`;
}

async function exists(path: string | URL): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Why denort cannot be downloaded, or undefined when Deno's download host serves it. */
async function downloadProblem(target: Target): Promise<string | undefined> {
  try {
    const response = await fetch(downloadUrl(target), {
      method: "HEAD",
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    await response.body?.cancel();
    return response.ok ? undefined : `the host answered HTTP ${response.status}`;
  } catch (error) {
    return describe(error);
  }
}

/** An error's message with its causes: fetch says only "fetch failed" and puts the reason below. */
function describe(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e !== undefined; e = e instanceof Error ? e.cause : undefined) {
    parts.push(e instanceof Error ? e.message : String(e));
  }
  return parts.join(": ");
}

/** Fails with the exact remedy when denort for `target` is neither cached nor downloadable. */
async function ensureDenortAvailable(target: Target): Promise<void> {
  const cached = await cachedZipPath(target);
  if (await exists(cached)) return;
  const problem = await downloadProblem(target);
  if (problem === undefined) return;
  throw new CompileError(
    [
      `cannot build kubehook-${target}: deno compile needs denort ${denoVersion} for ` +
      `${target} and cannot download ${downloadUrl(target)} (${problem}).`,
      `Get denort-${target}.zip on a machine with network access, from that address or from ` +
      `${githubUrl(target)}, then either:`,
      `  - unzip it and run: DENORT_BIN=/path/to/denort deno task compile --target ${target}`,
      `    (DENORT_BIN is one file used for every target: build one target per run), or`,
      `  - copy the zip, unchanged, to ${cached} and run deno task compile again.`,
    ].join("\n"),
  );
}

async function gitCommit(): Promise<string> {
  const head = await run(["git", "rev-parse", "HEAD"]).catch(() => ({ ok: false, stdout: "" }));
  if (!head.ok) return "unknown";
  const status = await run(["git", "status", "--porcelain", "--untracked-files=no"]);
  return status.ok && status.stdout !== "" ? `${head.stdout}-dirty` : head.stdout;
}

/** `deno check` with the lockfile, so that the compile step below may do without both. */
async function typeCheck(): Promise<void> {
  const frozen = await exists(new URL("deno.lock", root)) ? ["--frozen"] : [];
  const args = ["check", ...frozen, "src/main.ts"];
  const status = await new Deno.Command(Deno.execPath(), { args, cwd: root }).spawn().status;
  if (!status.success) throw new CompileError("src/main.ts does not type-check; see above.");
}

async function compile(target: Target, outDir: string, commit: string): Promise<void> {
  const output = `${outDir}/kubehook-${target}`;
  const envFile = await Deno.makeTempFile({ prefix: "kubehook-compile-", suffix: ".env" });
  try {
    await Deno.writeTextFile(envFile, `KUBEHOOK_COMMIT=${commit}\n`);
    const args = [
      "compile",
      // The hook acts as the runner itself: it reads and writes the workspace wherever the runner
      // put it, talks to the API server and starts processes. Narrower flags would only break on
      // paths and hosts the user configured.
      "--allow-all",
      "--no-prompt",
      // With a lockfile, deno compile embeds every npm package the lockfile holds as soon as the
      // program uses one at run time: @kubernetes/client-node, imported for its types only
      // (docs/design.md), added 60 MB. Without it only what runs is embedded (61.4 MB of
      // embedded files became 1.0 MB). typeCheck() has already checked with the lockfile.
      "--no-lock",
      "--no-check",
      `--v8-flags=${V8_FLAGS}`,
      "--target",
      target,
      "--output",
      output,
      `--env-file=${envFile}`,
      "src/main.ts",
    ];
    const status = await new Deno.Command(Deno.execPath(), { args, cwd: root }).spawn().status;
    if (!status.success) {
      throw new CompileError(`deno compile failed for ${target} (exit ${status.code}); see above.`);
    }
  } finally {
    await Deno.remove(envFile);
  }
  const size = (await Deno.stat(output)).size;
  const checked = await runsAsKubehook(output, target);
  console.log(
    `built ${output} (${(size / 1024 / 1024).toFixed(1)} MiB, commit ${commit}); ${checked}`,
  );
}

/** Runs the binary's `--version` where the target runs here: a runtime that is not denort (the npm
 * `deno` binary given as DENORT_BIN) yields a binary that is plain Deno, which must never ship.
 * Removes such a binary and throws; says what was checked otherwise. */
async function runsAsKubehook(output: string, target: Target): Promise<string> {
  const here = `${Deno.build.arch}-unknown-linux-gnu`;
  if (Deno.build.os !== "linux" || target !== here) {
    return `not run here (this machine is ${Deno.build.target}): smoke-test it on ${target}`;
  }
  const result = await new Deno.Command(output, {
    args: ["--version"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output().catch((error) => ({ success: false, stdout: new Uint8Array(), error }));
  const said = new TextDecoder().decode(result.stdout).split("\n")[0].trim();
  if (result.success && said.startsWith("kubehook ")) return `its --version says "${said}"`;
  await Deno.remove(output).catch(() => {});
  const runtime = Deno.env.get("DENORT_BIN") ?? "the downloaded denort";
  throw new CompileError(
    `the binary built for ${target} is not kubehook: its --version printed "${
      said || "nothing"
    }", so the runtime (${runtime}) is not Deno's denort (the npm "deno" package's binary, for one, ` +
      "makes plain Deno). The binary was removed. Use denort from " +
      `${downloadUrl(target)} (or its GitHub release, ${githubUrl(target)}) as DENORT_BIN.`,
  );
}

async function main(args: string[]): Promise<number> {
  const { targets: requested, outDir } = parseArgs(args);
  const denortBin = Deno.env.get("DENORT_BIN");
  const targets = denortBin
    ? await targetsForDenortBin(denortBin, requested)
    : requested ?? (Object.keys(TARGETS) as Target[]);
  if (!denortBin) {
    for (const target of targets) await ensureDenortAvailable(target);
  }
  await typeCheck();
  await Deno.mkdir(outDir, { recursive: true });
  const commit = await gitCommit();
  for (const target of targets) await compile(target, outDir, commit);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    if (!(error instanceof CompileError)) throw error;
    console.error(`kubehook compile: ${error.message}`);
    Deno.exit(1);
  }
}
