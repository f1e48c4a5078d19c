/**
 * The runner's step command as an argv. The runner hands over `entryPoint` and `entryPointArgs`
 * as the pieces of a command line split on single spaces (docker mode passes them to `docker exec`
 * through a command line): double quotes group words and are removed, a backslash escapes a quote.
 * Nothing else is interpreted — no `$`, no globbing — so the step gets exactly the arguments it
 * would get under docker.
 *
 * @module
 */

/** The argv for `entryPoint` and its command-line arguments. */
export function stepArgv(entryPoint: string, entryPointArgs: readonly string[]): string[] {
  return [entryPoint, ...splitCommandLine(entryPointArgs.join(" "))];
}

/** Splits a command line into words: whitespace separates words outside double quotes, double
 * quotes are removed, `\"` is a literal quote. An unterminated quote runs to the end. */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "\\" && line[i + 1] === '"') {
      word += '"';
      inWord = true;
      i++;
    } else if (c === '"') {
      quoted = !quoted;
      inWord = true;
    } else if ((c === " " || c === "\t") && !quoted) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}
