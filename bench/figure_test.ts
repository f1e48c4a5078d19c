import assert from "node:assert/strict";
import { formatTable, goalMet, ratioText } from "./figure.ts";

Deno.test("goalMet reads the issues' comparisons", () => {
  assert.equal(goalMet(2, "≤ 2"), true);
  assert.equal(goalMet(3, "≤ 2"), false);
  assert.equal(goalMet(119.9, "< 120"), true);
  assert.equal(goalMet(120, "< 120"), false);
  assert.equal(goalMet(0, "0"), true);
  assert.equal(goalMet(1, "0"), false);
  assert.equal(goalMet(1.2, "≤ 1.5×"), true);
  assert.equal(goalMet(1999, "< 2,000"), true);
  assert.equal(goalMet(5, "seconds"), undefined);
  assert.equal(goalMet(5, undefined), undefined);
});

Deno.test("ratioText: multiples, fractions, and tiny ratios as 1/N", () => {
  assert.equal(ratioText(350, 700), "0.50×");
  assert.equal(ratioText(1400, 700), "2.0×");
  assert.equal(ratioText(0.5, 600), "1/1200");
  assert.equal(ratioText(0, 13), "0×");
  assert.equal(ratioText(3, 0), "—");
});

Deno.test("formatTable: goal, met, same-run baseline, ratio and documented columns; pipes escaped; notes below", () => {
  const table = formatTable([{
    section: "step",
    figures: [
      {
        name: "exec sessions",
        value: 3,
        unit: "",
        goal: "≤ 2",
        documented: { value: 7, source: "up" },
      },
      {
        name: "step",
        value: 180,
        unit: "ms",
        goal: "≤ 1.5×",
        baseline: { value: 100, source: "kubectl" },
      },
      { name: "tar c | tar x", value: 12.345, unit: "ms", note: "why" },
    ],
  }]);
  const lines = table.split("\n");
  assert.match(
    lines[0],
    /\| baseline, same run +\| ratio +\| upstream, documented \(not measured\) \|$/,
  );
  assert.match(
    lines[2],
    /^\| step +\| exec sessions +\| 3 +\| ≤ 2 +\| NO +\| +\| +\| 7 \(up\) +\|$/,
  );
  // The ratio goal is judged on the ratio: 1.8× is more than 1.5×.
  assert.match(
    lines[3],
    /^\| step +\| step +\| 180 ms +\| ≤ 1\.5× +\| NO +\| 100 ms \(kubectl\) +\| 1\.8× +\| +\|$/,
  );
  assert.match(lines[4], /\| tar c \\\| tar x +\| 12\.3 ms +\|/);
  assert.equal(lines.at(-1), "- step / tar c | tar x: why");
});
