import { deepEqual, equal } from "node:assert/strict";
import { stepEnvironment } from "./step_environment.ts";

/** Runs the file with the host's sh and returns what the variable holds, byte for byte. */
async function valueAfterSourcing(text: string, name: string): Promise<string> {
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(file, text);
    const out = await new Deno.Command("sh", {
      args: ["-c", `. "$1" && printf %s "$${name}"`, "sh", file],
      env: { PATH: "/usr/bin:/bin" },
      clearEnv: true,
    }).output();
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("values survive sourcing byte-exact", async () => {
  const tricky = "line1\nline2 'single' \"double\" $HOME `id` \\ = ünïcödé\t";
  const { text, skipped } = stepEnvironment({ TRICKY: tricky, EMPTY: "" }, []);
  deepEqual(skipped, []);
  equal(await valueAfterSourcing(text, "TRICKY"), tricky);
  equal(await valueAfterSourcing(text, "EMPTY"), "");
  equal(await valueAfterSourcing(text, "CI"), "true");
  equal(await valueAfterSourcing(text, "GITHUB_ACTIONS"), "true");
});

Deno.test("prependPath goes before the container's PATH, newest first", async () => {
  const { text } = stepEnvironment({}, ["/new", "/old dir"]);
  equal(await valueAfterSourcing(text, "PATH"), "/new:/old dir:/usr/bin:/bin");
});

Deno.test("names a shell cannot export are reported, not silently lost", () => {
  const { text, skipped } = stepEnvironment({ "BAD-NAME": "x", GOOD: "y" }, []);
  deepEqual(skipped, ["BAD-NAME"]);
  equal(text.includes("BAD-NAME"), false);
});
