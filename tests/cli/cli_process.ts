/**
 * Runs `kubehook` the way a user does, `deno run -A src/main.ts ARGS`, in a clean environment
 * (only PATH, HOME and DENO_DIR are inherited, so no ACTIONS_RUNNER_* or KUBECONFIG of the
 * machine leaks in), and returns its exit code and output.
 *
 * @example
 * ```ts
 * const { code, stdout } = await runKubehook(["render", "--input", "job.json"], {});
 * ```
 * @module
 */

/** The repository root: `deno run` there finds deno.json and its import map. */
export const REPO_ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = `${REPO_ROOT}src/main.ts`;

/** How a kubehook process ended. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubehook with `args` and `env` on top of the clean environment. */
export async function runKubehook(
  args: string[],
  env: Record<string, string>,
): Promise<CliResult> {
  const inherited: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) inherited[name] = value;
  }
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    cwd: REPO_ROOT,
    env: { ...inherited, NO_COLOR: "1", ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
