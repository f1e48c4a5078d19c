/**
 * The README's install steps followed literally, with a release folder made by the project's own
 * scripts/release_dir.sh (what the release workflow publishes). Without a real denort here the
 * release binary is the bundle (`deno bundle`, one self-contained file) made executable: it is
 * kubehook all the same, so install.sh must accept it, verify the folder, and leave a working
 * installation behind.
 */
import assert from "node:assert/strict";
import { bundleTo, includes, root, run, withTempDir } from "./support.ts";

const readme = await Deno.readTextFile(`${root}README.md`);
const INSTALL = "sh install.sh --dest /home/runner/k8s";

Deno.test("a release folder installs as the README says, verified, and works", () =>
  withTempDir(async (dir) => {
    assert.ok(readme.includes(`\`${INSTALL}\``), "the README no longer shows the install command");
    const target = `${Deno.build.arch}-unknown-linux-gnu`;
    const built = `${dir}/dist/kubehook-${target}`;
    await Deno.mkdir(`${dir}/dist`);
    const bundled = await bundleTo(`${dir}/kubehook.js`);
    assert.equal(bundled.code, 0, bundled.stderr);
    // A static import (of a node: module: the bundle hoists every import to its top) would start
    // Deno's Node compatibility layer in every hook, about 20 ms each; yaml's Node build would
    // too, through the require shim it needs (the task bundles for the browser platform, which
    // picks yaml's ES module build).
    const bundle = await Deno.readTextFile(`${dir}/kubehook.js`);
    assert.doesNotMatch(
      bundle,
      /^import\b|createRequire/m,
      "the bundle loads a module at its start",
    );
    await Deno.writeTextFile(
      built,
      `#!/usr/bin/env -S deno run -A --no-lock --quiet\n${bundle}`,
    );
    await Deno.chmod(built, 0o755);
    const release = `${dir}/release`;
    const laid = await run("sh", [`${root}scripts/release_dir.sh`, release, built]);
    assert.equal(laid.code, 0, laid.stderr);
    assert.deepEqual([...Deno.readDirSync(release)].map((e) => e.name).sort(), [
      "SHA256SUMS",
      "hook.js",
      "hook.sh",
      "install.sh",
      `kubehook-${target}`,
    ]);

    // Step 2 of the README, in the release folder, with the destination under the test's folder.
    const dest = `${dir}/home/runner/k8s`;
    const [command, script, ...args] = INSTALL.replace("/home/runner/k8s", dest).split(" ");
    const installed = await run(command, [script, ...args], { cwd: release });
    assert.equal(installed.code, 0, installed.stderr);
    includes(installed.stdout, `installed kubehook 0.1.0`);

    const version = await run(`${dest}/hook.sh`, ["--version"]);
    assert.match(version.stdout, /^kubehook \d+\.\d+\.\d+ /);
    const empty = await run("sh", [`${dest}/hook.sh`], { stdin: "" });
    assert.equal(empty.code, 1);
    includes(empty.stdout + empty.stderr, "::error::kubehook: nothing arrived on stdin");
    const rendered = await run(`${dest}/kubehook`, [
      "render",
      "--input",
      `${root}tests/fixtures/prepare_job.json`,
    ], { env: { ACTIONS_RUNNER_POD_NAME: "runner" } });
    assert.equal(rendered.code, 0, rendered.stderr);
    includes(rendered.stdout, "kind: Pod");

    // The same folder with one byte changed is refused, naming the file.
    await Deno.writeTextFile(`${release}/hook.sh`, "# changed\n", { append: true });
    const refused = await run("sh", ["install.sh", "--dest", `${dir}/again`], { cwd: release });
    assert.equal(refused.code, 1);
    includes(refused.stderr, `checksum mismatch for ${release}/hook.sh`);
  }));
