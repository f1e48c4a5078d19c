import assert from "node:assert/strict";
import { DockerfileError, pairs, parseDockerfile, substitute, words } from "./dockerfile.ts";

Deno.test("continuations join lines, comments and blank lines inside them are skipped", () => {
  const { instructions } = parseDockerfile(
    "# syntax comment\n\nARG BASE=busybox\nfrom $BASE AS build\nRUN echo a \\\n# inside\n\n  && echo b\n" +
      'ENTRYPOINT ["cat", "/x"]\nCMD echo hi\nCOPY --from=build --chown=1:2 a b /c/\n',
  );
  assert.deepEqual(instructions.map((i) => [i.keyword, i.line]), [
    ["ARG", 3],
    ["FROM", 4],
    ["RUN", 5],
    ["ENTRYPOINT", 9],
    ["CMD", 10],
    ["COPY", 11],
  ]);
  assert.deepEqual(instructions[2].args, "echo a   && echo b");
  assert.deepEqual(instructions[3].json, ["cat", "/x"]);
  assert.deepEqual(instructions[4].json, undefined);
  assert.deepEqual(instructions[5].flags, { from: "build", chown: "1:2" });
  assert.deepEqual(instructions[5].args, "a b /c/");
});

Deno.test("an unknown instruction names its line", () => {
  assert.throws(() => parseDockerfile("FROM busybox\n\nFORM x\n"), (error) => {
    assert.ok(error instanceof DockerfileError);
    assert.equal(error.message, "dockerfile parse error on line 3: unknown instruction: FORM");
    return true;
  });
});

Deno.test("a malformed JSON form is the shell form, as Docker takes it", () => {
  const [run] = parseDockerfile('RUN ["echo", hi]\n').instructions;
  assert.deepEqual(run.json, undefined);
  assert.deepEqual(run.args, '["echo", hi]');
});

Deno.test("substitution: $VAR, ${VAR}, defaults, alternatives, escapes and quotes", () => {
  const vars: Record<string, string> = { A: "x", EMPTY: "" };
  const lookup = (n: string) => vars[n];
  assert.deepEqual(substitute("/a/$A/${A}b", lookup), "/a/x/xb");
  assert.deepEqual(
    substitute("${MISSING:-def} ${EMPTY:-e} ${EMPTY-e} ${A:+alt} ${MISSING:+alt}", lookup),
    "def e  alt ",
  );
  assert.deepEqual(substitute("\\$A '$A' \"$A\"", lookup), "$A $A x");
  assert.deepEqual(words('a "b c" d\\ e $A', lookup), ["a", "b c", "d e", "x"]);
});

Deno.test("ENV and LABEL pairs, and the legacy ENV form", () => {
  const lookup = (n: string) => (n === "A" ? "1" : undefined);
  assert.deepEqual(pairs('X=$A Y="a b" Z=', lookup, true), [
    { name: "X", value: "1" },
    { name: "Y", value: "a b" },
    { name: "Z", value: "" },
  ]);
  assert.deepEqual(pairs("NAME value with $A", lookup, true), [{
    name: "NAME",
    value: "value with 1",
  }]);
  assert.deepEqual(pairs("ONLY", lookup, false), [{ name: "ONLY", value: undefined }]);
});
