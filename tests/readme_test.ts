import { ok } from "node:assert/strict";
import { settingsMarkdown } from "../src/runner/settings.ts";

const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));

/** A Markdown table with its padding removed (`deno fmt` aligns columns). */
function unpadded(table: string): string {
  return table.split("\n").map((line) => line.replace(/ *\| */g, "|").replace(/-{3,}/g, "---"))
    .join("\n");
}

Deno.test("the README's configuration table is the one the code reads", () => {
  ok(
    unpadded(readme).includes(unpadded(settingsMarkdown())),
    "README.md's configuration table differs from src/runner/settings.ts: paste settingsMarkdown()'s output",
  );
});

Deno.test("the README names the two commands and .ci/run runs the test one", async () => {
  ok(readme.includes("deno task demo") && readme.includes("deno task test"));
  const ci = await Deno.readTextFile(new URL("../.ci/run", import.meta.url));
  ok(ci.includes("deno task test"), ".ci/run must run the README's test command");
});
