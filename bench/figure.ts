/**
 * A measured figure and the table `deno task bench` prints: each figure with its goal (from the
 * issues), whether the goal is met, its ratio against a baseline measured in the same run, and
 * upstream's documented figure beside it where there is one (never a ratio: it was not measured
 * here). Bench modules return {@link Figure}s; they never print the table themselves.
 *
 * ```ts
 * const figure: Figure = {
 *   name: "run_script_step 'true' wall time",
 *   value: 180,
 *   unit: "ms",
 *   goal: "≤ 1.5×",
 *   baseline: { value: 120, source: "kubectl exec POD -c job -- true" },
 *   documented: { value: 700, source: "upstream start-up alone, 0.7 s (low end)" },
 * };
 * console.log(formatTable([{ section: "step", figures: [figure] }]));
 * ```
 *
 * @module
 */

/** One measured figure. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** The goal the issue sets, as a comparison: `≤ 2`, `< 120`, `0`, `≤ 1.5`. */
  goal?: string;
  /** The same work done another way, measured in the same run on the same machine (these
   * machines are noisy: ratios hold, absolute times do not); the ratio is value ÷ baseline. */
  baseline?: { value: number; source: string };
  /** Upstream's documented figure for the same thing, shown beside it but never as the ratio:
   * it was not measured here. */
  documented?: { value: number; source: string };
  /** What the value is made of (a breakdown, the error text), printed under the table. */
  note?: string;
}

/** The figures of one bench module. */
export interface Section {
  section: string;
  figures: Figure[];
}

/** Whether `value` meets `goal`; undefined when there is no goal or it is not a comparison. */
export function goalMet(value: number, goal: string | undefined): boolean | undefined {
  const match = goal?.match(/^\s*(≤|<=|<|≥|>=|>|=)?\s*(-?[\d.,]+)\s*\S*\s*$/);
  if (!match) return undefined;
  const target = Number(match[2].replaceAll(",", ""));
  switch (match[1]) {
    case "≤":
    case "<=":
      return value <= target;
    case "<":
      return value < target;
    case "≥":
    case ">=":
      return value >= target;
    case ">":
      return value > target;
    default:
      return value === target;
  }
}

/** `value ÷ baseline`: "3.5×", "0.53×", and "1/811" when it is under a hundredth. */
export function ratioText(value: number, baseline: number): string {
  if (baseline === 0) return "—";
  const ratio = value / baseline;
  if (ratio === 0) return "0×";
  if (ratio < 0.01) return `1/${Math.round(1 / ratio)}`;
  return `${ratio >= 10 ? ratio.toFixed(0) : ratio >= 1 ? ratio.toFixed(1) : ratio.toFixed(2)}×`;
}

function valueText(figure: Figure): string {
  const digits = Number.isInteger(figure.value) ? 0 : Math.abs(figure.value) < 10 ? 2 : 1;
  return figure.unit
    ? `${figure.value.toFixed(digits)} ${figure.unit}`
    : figure.value.toFixed(digits);
}

/** The table as text: one row per figure, sections in order, then the notes. */
export function formatTable(sections: Section[]): string {
  const header = [
    "section",
    "figure",
    "value",
    "goal",
    "met",
    "baseline, same run",
    "ratio",
    "upstream, documented (not measured)",
  ];
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const { section, figures } of sections) {
    for (const f of figures) {
      // A goal in multiples ("≤ 1.5×") is a goal for the ratio to the same run's baseline.
      const ratioGoal = f.goal?.trim().endsWith("×") && f.baseline;
      const met = goalMet(ratioGoal ? f.value / f.baseline!.value : f.value, f.goal);
      rows.push([
        section,
        f.name,
        valueText(f),
        f.goal ?? "",
        met === undefined ? "" : met ? "yes" : "NO",
        f.baseline ? `${valueText({ ...f, value: f.baseline.value })} (${f.baseline.source})` : "",
        f.baseline ? ratioText(f.value, f.baseline.value) : "",
        f.documented
          ? `${valueText({ ...f, value: f.documented.value })} (${f.documented.source})`
          : "",
      ]);
      if (f.note) notes.push(`- ${section} / ${f.name}: ${f.note}`);
    }
  }
  // A "|" inside a cell ("tar c | tar x") would split it in Markdown.
  for (const row of rows) row.forEach((cell, i) => (row[i] = cell.replaceAll("|", "\\|")));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
    ...(notes.length ? ["", ...notes] : []),
  ].join("\n");
}

/** `figure` as the `--before` tree (bench/main.ts) measured it in the same run: the same goal and
 * baseline, its own value and note. */
export function beforeFigure(figure: Figure, value: number, note?: string): Figure {
  return { ...figure, name: `${figure.name} (--before)`, value, note, documented: undefined };
}
