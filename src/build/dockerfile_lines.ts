/**
 * Pointing at the Dockerfile line a failed build stopped on, so the job log shows the user's own
 * line instead of only the builder's message: the line a parse error names, or the instruction
 * the builder was running, found among the Dockerfile's instructions (continuation lines joined,
 * comments skipped, whitespace compared loosely: builders print instructions re-spaced and with
 * `${VAR}` expanded, which then matches by keyword and first word).
 *
 * @example
 * ```ts
 * locateInstruction("FROM busybox\nRUN false\n", "RUN false"); // { line: 2, text: "RUN false" }
 * ```
 * @module
 */

/** One instruction as written: its first line (1-based) and its text, continuations joined. */
export interface DockerfileLine {
  line: number;
  text: string;
}

/** The instructions of `dockerfile`, in order. */
export function instructions(dockerfile: string): DockerfileLine[] {
  const found: DockerfileLine[] = [];
  let current: DockerfileLine | undefined;
  dockerfile.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (!current && (line === "" || line.startsWith("#"))) return;
    if (current && line.startsWith("#")) return;
    const continued = line.endsWith("\\");
    const text = continued ? line.slice(0, -1).trim() : line;
    if (current) current.text = `${current.text} ${text}`.trim();
    else current = { line: index + 1, text };
    if (!continued) {
      found.push(current);
      current = undefined;
    }
  });
  if (current) found.push(current);
  return found;
}

/** Where `instruction` (as the builder printed it) is in `dockerfile`: the last exact match, else
 * the last with the same keyword and first argument. */
export function locateInstruction(
  dockerfile: string,
  instruction: string,
): DockerfileLine | undefined {
  const squash = (text: string) => text.replace(/\s+/g, " ").trim();
  const wanted = squash(instruction);
  const all = instructions(dockerfile);
  const exact = all.findLast((i) => squash(i.text).toLowerCase() === wanted.toLowerCase());
  if (exact) return exact;
  const [keyword, first] = wanted.split(" ");
  return all.findLast((i) => {
    const [k, f] = squash(i.text).split(" ");
    return k.toUpperCase() === keyword.toUpperCase() && f === first;
  });
}

/** The line number a builder's parse error names (`... parse error on line 3: ...`). */
export function parseErrorLine(message: string): number | undefined {
  const match = /\bline (\d+)\b/.exec(message);
  return match ? Number(match[1]) : undefined;
}
