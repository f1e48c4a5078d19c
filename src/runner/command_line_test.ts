import { deepEqual } from "node:assert/strict";
import { throws } from "node:assert/strict";
import { shellWords, splitCommandLine, stepArgv } from "./command_line.ts";

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

Deno.test("docker options split like a shell splits them", () => {
  const cases: [string, string[]][] = [
    ["--cpus 2 --memory 4g", ["--cpus", "2", "--memory", "4g"]],
    [`--health-cmd "pg_isready -U postgres"`, ["--health-cmd", "pg_isready -U postgres"]],
    [`--health-cmd='redis-cli ping'`, ["--health-cmd=redis-cli ping"]],
    [`-e A="say \\"hi\\"" -e B=a\\ b`, ["-e", 'A=say "hi"', "-e", "B=a b"]],
    [`  --user   1001:1001  `, ["--user", "1001:1001"]],
    [`-e EMPTY= -e Q='' x`, ["-e", "EMPTY=", "-e", "Q=", "x"]],
    [`--label "a b"c`, ["--label", "a bc"]],
    ["", []],
  ];
  for (const [line, words] of cases) deepEqual(shellWords(line), words, line);
  throws(() => shellWords(`--health-cmd "pg_isready`), SyntaxError);
  throws(() => shellWords(`-e 'a`), /single quote at character 4/);
});
