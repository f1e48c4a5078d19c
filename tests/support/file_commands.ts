/**
 * File commands as the runner handles them (protocol §5), for the simulator: before a step it creates
 * five empty files in `_temp/_runner_file_commands/` and passes their CONTAINER paths in the step's
 * environment ({@link createFileCommands}); after the step it parses the HOST files
 * ({@link readFileCommands}) behind GITHUB_ENV, GITHUB_OUTPUT, GITHUB_STATE (`NAME=value` lines or the
 * multi-line `NAME<<DELIMITER` form), GITHUB_PATH (one directory per line) and GITHUB_STEP_SUMMARY
 * (Markdown text). Same rules as the runner on Linux: lines end at LF only, empty lines are skipped,
 * `=` or `<<` — whichever comes first — decides the form, a missing delimiter is an error.
 *
 * @example
 * ```ts
 * parseKeyValueFile("A=1\nB<<EOF\nx\ny\nEOF\n"); // { A: "1", B: "x\ny" }
 * ```
 * @module
 */

/** The file commands a step wrote, parsed like the runner does. */
export interface FileCommands {
  env: Record<string, string>;
  output: Record<string, string>;
  state: Record<string, string>;
  path: string[];
  summary: string;
}

/** File name prefix → the step variable naming it. */
const FILES = {
  add_path: "GITHUB_PATH",
  set_env: "GITHUB_ENV",
  set_output: "GITHUB_OUTPUT",
  save_state: "GITHUB_STATE",
  step_summary: "GITHUB_STEP_SUMMARY",
} as const;

/** Creates the five empty files `<prefix>_<guid>` in the host directory `hostDir` and returns the step
 * variables pointing at them under `containerDir` (`/__w/_temp/_runner_file_commands` for script
 * steps, `/github/file_commands` for container actions). */
export async function createFileCommands(
  hostDir: string,
  containerDir: string,
  guid: string,
): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const [prefix, variable] of Object.entries(FILES)) {
    await Deno.writeTextFile(`${hostDir}/${prefix}_${guid}`, "");
    env[variable] = `${containerDir}/${prefix}_${guid}`;
  }
  return env;
}

/** Reads back the files {@link createFileCommands} made; throws what the runner would report. */
export async function readFileCommands(hostDir: string, guid: string): Promise<FileCommands> {
  const read = (prefix: keyof typeof FILES) => Deno.readTextFile(`${hostDir}/${prefix}_${guid}`);
  return {
    env: parseKeyValueFile(await read("set_env")),
    output: parseKeyValueFile(await read("set_output")),
    state: parseKeyValueFile(await read("save_state")),
    path: parsePathFile(await read("add_path")),
    summary: await read("step_summary"),
  };
}

/** Parses a GITHUB_ENV / GITHUB_OUTPUT / GITHUB_STATE file; throws what the runner would report. */
export function parseKeyValueFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  const lines = text.split("\n");
  // A final newline leaves one empty string after the split; it is not a line.
  if (lines.at(-1) === "") lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === "") continue;
    const equals = line.indexOf("=");
    const heredoc = line.indexOf("<<");
    if (equals >= 0 && (heredoc < 0 || equals < heredoc)) {
      values[line.slice(0, equals)] = line.slice(equals + 1);
    } else if (heredoc >= 0) {
      const name = line.slice(0, heredoc);
      const delimiter = line.slice(heredoc + 2);
      if (name === "" || delimiter === "") {
        throw new Error(
          `Invalid file command line '${line}': the name and the delimiter must not be empty.`,
        );
      }
      const end = lines.indexOf(delimiter, i + 1);
      if (end < 0) {
        throw new Error(`Invalid file command value: matching delimiter not found '${delimiter}'.`);
      }
      values[name] = lines.slice(i + 1, end).join("\n");
      i = end;
    } else {
      throw new Error(`Invalid file command line '${line}'.`);
    }
  }
  return values;
}

/** Parses a GITHUB_PATH file: one directory per line, blank lines skipped, in file order. */
export function parsePathFile(text: string): string[] {
  return text.split(/\r\n|\n|\r/).filter((line) => line.trim() !== "");
}
