import { deepEqual } from "node:assert/strict";
import { splitCommandLine, stepArgv } from "./command_line.ts";

Deno.test("the default shell command keeps its arguments", () => {
  deepEqual(stepArgv("sh", ["-e", "/__w/_temp/1.sh"]), ["sh", "-e", "/__w/_temp/1.sh"]);
});

Deno.test("a node action's quoted script path loses the quotes the runner added", () => {
  deepEqual(stepArgv("/__e/node20/bin/node", ['"/__w/_actions/o/r/v1/dist/index.js"']), [
    "/__e/node20/bin/node",
    "/__w/_actions/o/r/v1/dist/index.js",
  ]);
});

Deno.test("a quoted path with spaces, split by the runner, is one argument again", () => {
  deepEqual(stepArgv("node", ['"/__w/my', 'dir/x.js"']), ["node", "/__w/my dir/x.js"]);
});

Deno.test("dollars, backticks and escaped quotes are kept literally", () => {
  deepEqual(splitCommandLine('a $HOME `x` "say \\"hi\\"" ""'), [
    "a",
    "$HOME",
    "`x`",
    'say "hi"',
    "",
  ]);
});
