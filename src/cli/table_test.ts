import assert from "node:assert/strict";
import { formatTable } from "./table.ts";

Deno.test("formatTable aligns columns and continues multi-line cells under the detail", () => {
  const table = formatTable([
    { check: "API server", result: "ok", detail: "https://x:6443\nfrom kubeconfig" },
    { check: "RBAC pods/exec", result: "FAIL", detail: "missing get", fix: "add:\n  - rule" },
  ]);
  assert.equal(
    table,
    [
      "CHECK           RESULT  DETAIL / FIX",
      "API server      ok      https://x:6443",
      "                        from kubeconfig",
      "RBAC pods/exec  FAIL    missing get",
      "                        fix: add:",
      "                               - rule",
    ].join("\n"),
  );
});

Deno.test("formatTable leaves no trailing spaces, even for empty details", () => {
  const table = formatTable([{ check: "x", result: "info", detail: "" }]);
  for (const line of table.split("\n")) assert.equal(line, line.trimEnd());
});
