/**
 * A Dockerfile parser with the rules of Docker's (buildkit's) front end that a build depends on:
 * `\` line continuations (comment and blank lines inside one are skipped), `#` comments, keywords
 * in any case, JSON (exec) and shell forms, `--flag=value` options of FROM/COPY/ADD/RUN, and the
 * `$VAR` / `${VAR}` / `${VAR:-default}` / `${VAR:+alternative}` substitution (with `\$` and single
 * quotes keeping `$` literal) that Docker applies to ENV, ARG, LABEL, WORKDIR, USER, COPY, ADD,
 * FROM and the like, but not to RUN, CMD and ENTRYPOINT, whose shell does its own.
 *
 * @example
 * ```ts
 * const { instructions } = parseDockerfile("FROM busybox\nRUN echo \\\n  hi\n");
 * instructions[1]; // { keyword: "RUN", line: 2, args: "echo   hi", ... }
 * ```
 * @module
 */

/** One instruction, its continuation lines joined. */
export interface Instruction {
  keyword: string;
  /** The 1-based line the instruction starts on. */
  line: number;
  /** The arguments after the keyword and the `--flag`s, as written (not substituted). */
  args: string;
  /** The arguments when written in JSON (exec) form. */
  json?: string[];
  /** `--name=value` options before the arguments (FROM, COPY, ADD, RUN). */
  flags: Record<string, string>;
  /** The instruction as written, continuation lines joined, for log lines. */
  text: string;
}

/** A Dockerfile that cannot be parsed; `message` is Docker's wording. */
export class DockerfileError extends Error {
  constructor(readonly line: number, what: string) {
    super(`dockerfile parse error on line ${line}: ${what}`);
    this.name = "DockerfileError";
  }
}

const KEYWORDS = new Set([
  "ADD",
  "ARG",
  "CMD",
  "COPY",
  "ENTRYPOINT",
  "ENV",
  "EXPOSE",
  "FROM",
  "HEALTHCHECK",
  "LABEL",
  "MAINTAINER",
  "ONBUILD",
  "RUN",
  "SHELL",
  "STOPSIGNAL",
  "USER",
  "VOLUME",
  "WORKDIR",
]);
/** Instructions whose arguments may be a JSON array. */
const JSON_FORMS = new Set(["RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"]);
const FLAGGED = new Set(["FROM", "COPY", "ADD", "RUN"]);

/** Parses `text`; throws {@link DockerfileError} for an unknown instruction or a missing argument. */
export function parseDockerfile(text: string): { instructions: Instruction[] } {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  const instructions: Instruction[] = [];
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i];
    if (isBlankOrComment(first)) continue;
    const start = i + 1;
    let joined = "";
    let line = first;
    for (;;) {
      const continued = line.match(/^(.*)\\[ \t]*$/s);
      if (!continued) {
        joined += line;
        break;
      }
      joined += continued[1];
      // Comment and blank lines inside a continuation are dropped, as Docker does.
      do i++; while (i < lines.length && isBlankOrComment(lines[i]));
      if (i >= lines.length) break;
      line = lines[i];
    }
    instructions.push(instruction(joined.trim(), start));
  }
  return { instructions };
}

function isBlankOrComment(line: string): boolean {
  const trimmed = line.trim();
  return trimmed === "" || trimmed.startsWith("#");
}

function instruction(text: string, line: number): Instruction {
  const [, word, rest = ""] = text.match(/^(\S+)\s*(.*)$/s)!;
  const keyword = word.toUpperCase();
  if (!KEYWORDS.has(keyword)) throw new DockerfileError(line, `unknown instruction: ${word}`);
  let args = rest.trim();
  const flags: Record<string, string> = {};
  if (FLAGGED.has(keyword)) {
    for (let m; (m = args.match(/^--([a-zA-Z-]+)(?:=(\S*))?\s*/));) {
      flags[m[1]] = m[2] ?? "true";
      args = args.slice(m[0].length);
    }
  }
  if (!args && keyword !== "CMD" && keyword !== "ENTRYPOINT") {
    throw new DockerfileError(line, `${keyword} requires at least one argument`);
  }
  const json = JSON_FORMS.has(keyword) ? jsonForm(args) : undefined;
  return { keyword, line, args, ...(json ? { json } : {}), flags, text };
}

/** The array of a JSON-form argument, or undefined for the shell form (as Docker falls back). */
function jsonForm(args: string): string[] | undefined {
  if (!args.startsWith("[")) return undefined;
  try {
    const parsed = JSON.parse(args);
    if (Array.isArray(parsed) && parsed.every((p) => typeof p === "string")) return parsed;
  } catch {
    // Not JSON: Docker takes it as the shell form.
  }
  return undefined;
}

/** Looks a variable up; undefined when it is not set. */
export type Lookup = (name: string) => string | undefined;

/** Splits `text` into words as Docker does for ENV, LABEL, ARG, COPY and the like: whitespace
 * separates words, quotes group and are removed, `\` escapes, `$` substitutes (not inside single
 * quotes). */
export function words(text: string, lookup: Lookup): string[] {
  return scan(text, lookup, true);
}

/** `text` with its variables substituted and quotes removed, whitespace kept (WORKDIR, USER,
 * the legacy `ENV name value`). */
export function substitute(text: string, lookup: Lookup): string {
  return scan(text, lookup, false).join("");
}

function scan(text: string, lookup: Lookup, split: boolean): string[] {
  const result: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < text.length;) {
    const c = text[i];
    if (split && /\s/.test(c)) {
      if (inWord) result.push(word);
      word = "";
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) {
        throw new Error(`unexpected end of statement while looking for matching single-quote`);
      }
      word += text.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      for (; i < text.length && text[i] !== '"';) {
        if (text[i] === "\\" && i + 1 < text.length && '"\\$'.includes(text[i + 1])) {
          word += text[i + 1];
          i += 2;
        } else if (text[i] === "$") {
          const [value, next] = variable(text, i, lookup);
          word += value;
          i = next;
        } else word += text[i++];
      }
      if (i >= text.length) {
        throw new Error(`unexpected end of statement while looking for matching double-quote`);
      }
      i++;
    } else if (c === "\\" && i + 1 < text.length) {
      word += text[i + 1];
      i += 2;
    } else if (c === "$") {
      const [value, next] = variable(text, i, lookup);
      word += value;
      i = next;
    } else {
      word += c;
      i++;
    }
  }
  if (inWord) result.push(word);
  return result;
}

/** Reads the variable at `text[start]` (a `$`); returns its value and the index after it. */
function variable(text: string, start: number, lookup: Lookup): [string, number] {
  const braced = text.slice(start).match(/^\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}/);
  if (braced) {
    const [whole, name, operator, word = ""] = braced;
    const value = lookup(name);
    const set = operator?.startsWith(":") ? !!value : value !== undefined;
    let result = value ?? "";
    if (operator?.endsWith("-")) result = set ? value! : substitute(word, lookup);
    if (operator?.endsWith("+")) result = set ? substitute(word, lookup) : "";
    return [result, start + whole.length];
  }
  const plain = text.slice(start).match(/^\$([A-Za-z_][A-Za-z0-9_]*)/);
  if (plain) return [lookup(plain[1]) ?? "", start + plain[0].length];
  return ["$", start + 1];
}

/** `NAME=value` pairs of ENV, LABEL or ARG (ARG's value may be absent); the legacy
 * `ENV NAME value with spaces` too. */
export function pairs(
  args: string,
  lookup: Lookup,
  legacy: boolean,
): { name: string; value: string | undefined }[] {
  const first = args.match(/^(\S+)(\s+(.*))?$/s)!;
  if (legacy && !first[1].includes("=") && first[3] !== undefined) {
    return [{ name: first[1], value: substitute(first[3], lookup) }];
  }
  return words(args, lookup).map((word) => {
    const eq = word.indexOf("=");
    return eq < 0
      ? { name: word, value: undefined }
      : { name: word.slice(0, eq), value: word.slice(eq + 1) };
  });
}
