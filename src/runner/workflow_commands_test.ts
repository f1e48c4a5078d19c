import assert from "node:assert/strict";
import {
  addMask,
  debugLogging,
  escapeData,
  escapeProperty,
  formatCommand,
  group,
} from "./workflow_commands.ts";

Deno.test("debug logging is on for RUNNER_DEBUG=1 or ACTIONS_STEP_DEBUG=true only", () => {
  assert.equal(debugLogging({}), false);
  assert.equal(debugLogging({ RUNNER_DEBUG: "1" }), true);
  assert.equal(debugLogging({ ACTIONS_STEP_DEBUG: "true" }), true);
  assert.equal(debugLogging({ RUNNER_DEBUG: "0", ACTIONS_STEP_DEBUG: "false" }), false);
});

Deno.test("data escapes %, CR and LF; properties also : and ,", () => {
  assert.equal(escapeData("100%\r\nnext"), "100%25%0D%0Anext");
  assert.equal(escapeData("%0A"), "%250A");
  assert.equal(escapeProperty("C:\\a,b%"), "C%3A\\a%2Cb%25");
});

Deno.test("formatCommand joins properties and skips undefined ones", () => {
  assert.equal(
    formatCommand(
      "warning",
      { file: "t.yaml", line: 3, col: undefined, title: "a:b" },
      "two\nlines",
    ),
    "::warning file=t.yaml,line=3,title=a%3Ab::two%0Alines",
  );
  assert.equal(formatCommand("group", {}, "Preparing job pod"), "::group::Preparing job pod");
});

Deno.test("printing helpers write one line each, masks cover each line of a multi-line secret", () => {
  const lines: string[] = [];
  const original = console.log;
  console.log = (line: string) => lines.push(line);
  try {
    group("x");
    addMask("a\nb");
    addMask("  ");
  } finally {
    console.log = original;
  }
  assert.deepEqual(lines, ["::group::x", "::add-mask::a%0Ab", "::add-mask::a", "::add-mask::b"]);
});
