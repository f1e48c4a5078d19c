/**
 * Command lines the runner hands over, split into words as their reader splits them. A step's
 * command: the runner gives `entryPoint` and `entryPointArgs` as the pieces of a command line split
 * on single spaces (docker mode passes them to `docker exec` through a command line): double
 * quotes group words and are removed, a backslash escapes a quote. A container's `options`: the
 * docker client gets them from a shell, so POSIX shell rules apply ({@link shellWords}). Nothing
 * is expanded — no `$`, no globbing — so each gets exactly the words it would get under docker.
 *
 * @example
 * ```ts
 * shellWords(`--health-cmd "pg_isready -U postgres" -e A='x y'`);
 * // ["--health-cmd", "pg_isready -U postgres", "-e", "A=x y"]
 * ```
 * @module
 */

/** The argv for `entryPoint` and its command-line arguments. */
export function stepArgv(entryPoint: string, entryPointArgs: readonly string[]): string[] {
  return [entryPoint, ...splitCommandLine(entryPointArgs.join(" "))];
}

/** Splits a command line into words: whitespace separates words outside double quotes, double
 * quotes are removed, `\"` is a literal quote. An unterminated quote runs to the end. */
export function splitCommandLine(line: string): string[] {
  const words = new Words();
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "\\" && line[i + 1] === '"') {
      words.add('"');
      i++;
    } else if (c === '"') {
      quoted = !quoted;
      words.add("");
    } else if ((c === " " || c === "\t") && !quoted) words.end();
    else words.add(c);
  }
  return words.done();
}

/** Splits `line` with POSIX shell rules: whitespace separates words; single quotes keep
 * everything literally; double quotes keep everything but `\"`, `\\`, `` \` `` and `\$`; a
 * backslash outside quotes escapes the next character. Throws a SyntaxError naming an
 * unterminated quote. */
export function shellWords(line: string): string[] {
  const words = new Words();
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new SyntaxError(`unterminated single quote at character ${i + 1}`);
      words.add(line.slice(i + 1, end));
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      let text = "";
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === "\\" && '"\\`$'.includes(line[j + 1] ?? "")) j++;
        text += line[j];
      }
      if (j >= line.length) {
        throw new SyntaxError(`unterminated double quote at character ${i + 1}`);
      }
      words.add(text);
      i = j;
    } else if (c === "\\" && i + 1 < line.length) words.add(line[++i]);
    else if (/\s/.test(c)) words.end();
    else words.add(c);
  }
  return words.done();
}

/** Words as they are read: text added to the current one (even "", for a quoted empty word),
 * which separators end. */
class Words {
  #words: string[] = [];
  #word: string | undefined;

  add(text: string): void {
    this.#word = (this.#word ?? "") + text;
  }

  end(): void {
    if (this.#word !== undefined) this.#words.push(this.#word);
    this.#word = undefined;
  }

  done(): string[] {
    this.end();
    return this.#words;
  }
}
