import assert from "node:assert/strict";
import { instructions, locateInstruction, parseErrorLine } from "./dockerfile_lines.ts";

const DOCKERFILE = `# syntax comment
FROM busybox AS base

RUN echo one && \\
    # a comment inside
    echo two
COPY run.sh /run.sh
RUN   false
ENTRYPOINT ["/run.sh"]
`;

Deno.test("instructions start on their first line, continuations joined, comments skipped", () => {
  assert.deepEqual(instructions(DOCKERFILE).map((i) => i.line), [2, 4, 7, 8, 9]);
  assert.equal(instructions(DOCKERFILE)[1].text, "RUN echo one && echo two");
});

Deno.test("the instruction a builder printed is found, loosely spaced", () => {
  assert.deepEqual(locateInstruction(DOCKERFILE, "RUN false"), { line: 8, text: "RUN   false" });
  assert.equal(locateInstruction(DOCKERFILE, "RUN echo one &&   echo two")?.line, 4);
  // Expanded variables: the keyword and first word still find it.
  assert.equal(locateInstruction(DOCKERFILE, "COPY run.sh /expanded/run.sh")?.line, 7);
  assert.equal(locateInstruction(DOCKERFILE, "USER nobody"), undefined);
});

Deno.test("a parse error's line number is read from the builder's message", () => {
  assert.equal(parseErrorLine("dockerfile parse error on line 3: unknown instruction: FORM"), 3);
  assert.equal(parseErrorLine("something else"), undefined);
});
