/**
 * Helpers shared by the black-box tests of what kubehook ships besides its own code (the shims,
 * the installer, the compile task, the examples): the repository's paths, running a command to
 * completion, temporary folders, fake executables and which tools this machine has.
 */
import assert from "node:assert/strict";

/** The repository's root folder, with a trailing slash. */
export const root = new URL("../..", import.meta.url).pathname;
export const hookJs = `${root}scripts/hook.js`;

export function includes(text: string, part: string): void {
  assert.ok(text.includes(part), `expected ${JSON.stringify(part)} in:\n${text}`);
}

export function available(command: string): boolean {
  try {
    return new Deno.Command(command, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
export const hasNode = available("node");
export const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});

export interface Result {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, feeding `stdin` when given. */
export async function run(
  command: string,
  args: string[],
  options: { stdin?: string; env?: Record<string, string>; clearEnv?: boolean; cwd?: string } = {},
): Promise<Result> {
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd,
    env: options.env,
    clearEnv: options.clearEnv,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    signal: output.signal,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** A temporary folder for one test, removed afterwards whatever happens. */
export async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kubehook-dist-test-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

export async function writeExecutable(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(path, text);
  await Deno.chmod(path, 0o755);
}

/** Makes the bundle at `out` exactly as `deno task bundle` does (its command, from deno.json,
 * with only the output file changed). */
export async function bundleTo(out: string): Promise<Result> {
  const config = JSON.parse(await Deno.readTextFile(`${root}deno.json`));
  const [deno, ...args] = (config.tasks.bundle as string).split(" ");
  assert.equal(
    deno,
    "deno",
    `deno.json's bundle task no longer starts with deno: ${config.tasks.bundle}`,
  );
  const output = args.indexOf("-o") + 1;
  assert.ok(output > 0, `deno.json's bundle task names no -o file: ${config.tasks.bundle}`);
  args[output] = out;
  return await run(Deno.execPath(), ["--quiet", ...args], { cwd: root });
}
