import assert from "node:assert/strict";
import { parseKeyValueFile, parsePathFile } from "./file_commands.ts";

Deno.test("NAME=value lines, the first = splits, later lines win", () => {
  assert.deepEqual(parseKeyValueFile("A=1\n\nB=x=y\nA=2\nEMPTY=\n"), {
    A: "2",
    B: "x=y",
    EMPTY: "",
  });
  assert.deepEqual(parseKeyValueFile("NO_NEWLINE=end"), { NO_NEWLINE: "end" });
  assert.deepEqual(parseKeyValueFile(""), {});
});

Deno.test("multi-line values with delimiters keep inner blank lines and CR", () => {
  const text = "M<<EOF_1\nfirst\n\nthird\r\nEOF_1\nN=after\nE<<X\nX\nW=a<<b\n";
  assert.deepEqual(parseKeyValueFile(text), {
    M: "first\n\nthird\r",
    N: "after",
    E: "",
    W: "a<<b",
  });
  assert.deepEqual(parseKeyValueFile("K<<=D\nv\n=D\n"), { K: "v" }, "<< before = means heredoc");
});

Deno.test("malformed files fail like the runner", () => {
  assert.throws(
    () => parseKeyValueFile("M<<EOF\nnever closed\n"),
    /matching delimiter not found 'EOF'/,
  );
  assert.throws(() => parseKeyValueFile("<<EOF\nx\nEOF\n"), /must not be empty/);
  assert.throws(() => parseKeyValueFile("just words\n"), /Invalid file command line 'just words'/);
});

Deno.test("GITHUB_PATH lines", () => {
  assert.deepEqual(parsePathFile("/a/bin\n\n/b bin\r\n/c\n"), ["/a/bin", "/b bin", "/c"]);
});
