/**
 * The step's environment as a POSIX shell file that the step's wrapper sources in the pod. Values
 * travel inside the upload (never on a command line, never in the log) and arrive byte-exact: each
 * is single-quoted, so newlines, quotes, `$`, backticks and non-ASCII bytes mean nothing to the
 * shell.
 *
 * @module
 */
import { shellQuote } from "../shell_quote.ts";

/** Variables the runner leaves to the hook (protocol §2, run_script_step). */
const ALWAYS = { CI: "true", GITHUB_ACTIONS: "true" };

/** A name `export` accepts; others cannot reach a POSIX shell's environment. */
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The file's text and the names that had to be left out. */
export interface StepEnvironment {
  text: string;
  skipped: string[];
}

/** Builds the environment file: the step's variables plus CI and GITHUB_ACTIONS, and PATH with
 * `prependPath` (newest first) in front of the container's own PATH. */
export function stepEnvironment(
  variables: Record<string, string>,
  prependPath: readonly string[],
): StepEnvironment {
  const lines: string[] = [];
  const skipped: string[] = [];
  for (const [name, value] of Object.entries({ ...ALWAYS, ...variables })) {
    if (!SHELL_NAME.test(name)) skipped.push(name);
    else lines.push(`export ${name}=${shellQuote(value)}`);
  }
  if (prependPath.length > 0) {
    lines.push(`export PATH=${shellQuote(prependPath.join(":"))}"\${PATH:+:\$PATH}"`);
  }
  return { text: lines.join("\n") + "\n", skipped };
}
