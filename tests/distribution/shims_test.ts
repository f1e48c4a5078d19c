/**
 * Black-box tests of the Node shim (`scripts/hook.js`) that the runner starts in place of the
 * hook: it runs the kubehook beside it with the runner's stdin, arguments and signals, and ends
 * as kubehook ended. Fake `kubehook` binaries (shell scripts) stand in for the real one. And
 * `scripts/hook.sh` running kubehook from source fetches only the npm packages that run.
 */
import assert from "node:assert/strict";
import { V8_FLAGS } from "../../scripts/compile.ts";
import { hasNode, hookJs, includes, root, run, withTempDir, writeExecutable } from "./support.ts";

Deno.test("hook.sh from source fetches no npm package that src/ imports for its types only", () =>
  withTempDir(async (denoDir) => {
    const result = await run("sh", [`${root}scripts/hook.sh`, "--version"], {
      env: { DENO_DIR: denoDir, PATH: `${Deno.execPath().replace(/\/[^/]*$/, "")}:/usr/bin:/bin` },
    });
    assert.equal(result.code, 0, result.stderr);
    includes(result.stdout, "kubehook ");
    const fetched = await Array.fromAsync(
      Deno.readDir(`${denoDir}/npm/registry.npmjs.org`),
      (entry) => entry.name,
    ).catch(() => []);
    // yaml runs (templates, kubeconfig); @kubernetes/client-node and its 68 dependencies do not.
    assert.deepEqual(fetched.filter((name) => name !== "yaml"), []);
  }));

Deno.test("hook.sh from source gives Deno the V8 flags the release binary is compiled with", () =>
  withTempDir(async (dir) => {
    // A `deno` that prints the arguments hook.sh runs it with.
    await writeExecutable(`${dir}/deno`, `#!/bin/sh\nprintf '%s\\n' "$@"\n`);
    const result = await run("sh", [`${root}scripts/hook.sh`, "--version"], {
      env: { PATH: `${dir}:/usr/bin:/bin` },
    });
    assert.equal(result.code, 0, result.stderr);
    const args = result.stdout.split("\n");
    assert.ok(args.includes(`--v8-flags=${V8_FLAGS}`), result.stdout);
    // Deno's own flags come before the program; what follows it is the program's.
    assert.ok(
      args.indexOf(`--v8-flags=${V8_FLAGS}`) < args.indexOf(`${root}scripts/../src/main.ts`),
    );
  }));

Deno.test({
  name:
    "hook.js runs the kubehook beside it with the runner's stdin and arguments, and its exit code",
  ignore: !hasNode,
  fn: () =>
    withTempDir(async (dir) => {
      await Deno.copyFile(hookJs, `${dir}/index.js`);
      await writeExecutable(`${dir}/kubehook`, `#!/bin/sh\necho "args: $*"\ncat\nexit 7\n`);
      const input = `{"command":"prepare_job","args":{"x":"a\\nb $HOME \`q\`"}}\n`;
      const result = await run("node", [`${dir}/index.js`, "one", "two words"], { stdin: input });
      assert.deepEqual(result.stdout, `args: one two words\n${input}`);
      assert.deepEqual(result.code, 7);
    }),
});

Deno.test({
  name: "hook.js forwards SIGINT to kubehook and exits with the code kubehook chose",
  ignore: !hasNode,
  fn: () =>
    withTempDir(async (dir) => {
      await writeExecutable(
        `${dir}/fake`,
        // Bounded, so that a shim that does not forward the signal fails the test instead of
        // hanging it.
        `#!/bin/sh\ntrap 'echo "got INT"; exit 42' INT\necho ready\n` +
          `i=0; while [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done\nexit 99\n`,
      );
      const child = new Deno.Command("node", {
        args: [hookJs],
        env: { KUBEHOOK_BIN: `${dir}/fake` },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      while (!seen.includes("ready\n")) {
        const { value, done } = await lines.read();
        assert.ok(!done, `the fake kubehook never became ready; output: ${seen}`);
        seen += value;
      }
      child.kill("SIGINT");
      for (let chunk = await lines.read(); !chunk.done; chunk = await lines.read()) {
        seen += chunk.value;
      }
      const status = await child.status;
      await child.stderr.cancel();
      includes(seen, "got INT");
      assert.deepEqual(status.code, 42);
    }),
});

Deno.test({
  name: "hook.js dies of the signal that killed kubehook",
  ignore: !hasNode,
  fn: () =>
    withTempDir(async (dir) => {
      await writeExecutable(`${dir}/fake`, `#!/bin/sh\nkill -TERM $$\n`);
      const result = await run("node", [hookJs], { env: { KUBEHOOK_BIN: `${dir}/fake` } });
      assert.deepEqual(result.signal, "SIGTERM");
    }),
});

Deno.test({
  name: "hook.js without a kubehook binary says where it looked and how to fix it",
  ignore: !hasNode,
  fn: () =>
    withTempDir(async (dir) => {
      const result = await run("node", [hookJs], { env: { KUBEHOOK_BIN: `${dir}/missing` } });
      assert.deepEqual(result.code, 127);
      includes(result.stderr, `${dir}/missing`);
      includes(result.stderr, "KUBEHOOK_BIN");
    }),
});
