/**
 * The plain-text table `kubehook doctor` prints: one row per check with its result and detail, and
 * the fix below the detail when there is one. No colours or box characters, so it reads the same in
 * a terminal, a job log and a pasted issue; multi-line cells continue under their column.
 *
 * @example
 * ```ts
 * console.log(formatTable([
 *   { check: "API server", result: "ok", detail: "https://10.0.0.1:443" },
 *   { check: "pods/exec", result: "FAIL", detail: "missing get", fix: "add ..." },
 * ]));
 * ```
 * @module
 */

/** How a check came out. FAIL means a job would fail; warn means it may; skip means it could not
 * be checked; info is only shown. */
export type CheckResult = "ok" | "FAIL" | "warn" | "skip" | "info";

/** One row of the table. */
export interface CheckRow {
  check: string;
  result: CheckResult;
  /** What was found; may span lines. */
  detail: string;
  /** What to do about it; may span lines (e.g. a Role rule). */
  fix?: string;
}

const HEADER = { check: "CHECK", result: "RESULT", detail: "DETAIL / FIX" };
const GAP = "  ";

/** The rows as a table with a header line; lines carry no trailing spaces. */
export function formatTable(rows: readonly CheckRow[]): string {
  const checkWidth = Math.max(HEADER.check.length, ...rows.map((r) => r.check.length));
  const resultWidth = Math.max(HEADER.result.length, ...rows.map((r) => r.result.length));
  const indent = " ".repeat(checkWidth + resultWidth + 2 * GAP.length);
  const line = (check: string, result: string, text: string) =>
    (check.padEnd(checkWidth) + GAP + result.padEnd(resultWidth) + GAP + text).trimEnd();
  const out = [line(HEADER.check, HEADER.result, HEADER.detail)];
  for (const row of rows) {
    const [first, ...more] = row.detail.split("\n");
    out.push(line(row.check, row.result, first));
    for (const text of more) out.push((indent + text).trimEnd());
    if (row.fix) {
      row.fix.split("\n").forEach((text, i) => {
        out.push((indent + (i === 0 ? "fix: " : "     ") + text).trimEnd());
      });
    }
  }
  return out.join("\n");
}
