/**
 * Values the runner may hand a step in its environment: every one must arrive byte for byte, in
 * script steps and container steps alike.
 *
 * @module
 */

/** One value per kind of trouble: newlines, quotes, `$`, backticks, non-ASCII, empty, control. */
export const EDGE_VALUES: Readonly<Record<string, string>> = {
  NEWLINES: "line one\nline two\n\nlast line\n",
  QUOTES: `single ' double " both '" backslash \\ end`,
  DOLLARS: "$HOME ${PATH} $(id -u) $$ $1 $",
  BACKTICKS: "`uname -a` and `id`",
  EQUALS: "a=b==c=",
  NON_ASCII: "héllo wörld ✓ 日本語 🚀",
  EMPTY: "",
  SPACES: "  leading and trailing  ",
  CONTROL: "tab\there\r\nthen\x01soh",
  SEMICOLONS: "; exit 7; echo pwned &",
};

/** A value that must never be visible outside the step's environment. */
export const SECRET = "kubehook-test-secret-5f1d9c";

/** A POSIX shell script printing each of `names` as `NAME=<base64 of its value>` (base64 keeps
 * every byte visible, trailing newlines included). */
export function printValuesScript(names: readonly string[]): string {
  return names.map((name) => `printf '%s=%s\\n' ${name} "$(printf '%s' "$${name}" | base64 -w0)"`)
    .join("\n");
}

/** The values printed by {@link printValuesScript}, decoded; undefined for a missing name. */
export function printedValues(stdout: string, names: readonly string[]): Record<string, string> {
  const utf8 = new TextDecoder();
  const values: Record<string, string> = {};
  for (const name of names) {
    const line = stdout.split("\n").find((l) => l.startsWith(`${name}=`));
    if (line === undefined) continue;
    values[name] = utf8.decode(
      Uint8Array.from(atob(line.slice(name.length + 1)), (c) => c.charCodeAt(0)),
    );
  }
  return values;
}
