/**
 * `kubehook` itself, run as a user runs it: `--version` names the commit of the checkout it runs
 * from, `--help` lists every setting (render's and doctor's help send readers there), and a hook
 * run with nothing on stdin says so once, pointing at the installed shim.
 */
import assert from "node:assert/strict";
import { SETTINGS } from "../../src/runner/settings.ts";
import { REPO_ROOT, runKubehook } from "./cli_process.ts";

const checkout = await Deno.stat(`${REPO_ROOT}.git`).then(() => true, () => false);
const git = await new Deno.Command("git", { args: ["--version"] }).output().then(
  (o) => o.success,
  () => false,
);

Deno.test({
  name: "--version names the commit checked out",
  ignore: !checkout || !git,
  fn: async () => {
    const head = new TextDecoder().decode(
      (await new Deno.Command("git", { args: ["rev-parse", "HEAD"], cwd: REPO_ROOT }).output())
        .stdout,
    ).trim();
    const { code, stdout } = await runKubehook(["--version"], {});
    assert.equal(code, 0);
    assert.match(stdout, /^kubehook \d+\.\d+\.\d+ \(commit [0-9a-f]{12} from source, deno /);
    assert.ok(stdout.includes(`commit ${head.slice(0, 12)} `), stdout);
  },
});

Deno.test("nothing on stdin: one error, naming the installed hook.sh", async () => {
  const { code, stdout, stderr } = await runKubehook([], {});
  const output = stdout + stderr;
  assert.equal(code, 1, output);
  assert.match(output, /^::error::kubehook: nothing arrived on stdin: /m);
  assert.doesNotMatch(output, /kubehook: kubehook/);
  assert.match(output, /hook\.sh installed beside the kubehook binary/);
  assert.doesNotMatch(output, /scripts\/hook\.sh/);
});

Deno.test("--help lists every setting", async () => {
  const { code, stdout } = await runKubehook(["--help"], {});
  assert.equal(code, 0);
  for (const setting of SETTINGS) {
    assert.match(stdout, new RegExp(`^  ${setting.name}\n`, "m"), setting.name);
  }
});
