/**
 * Black-box tests of the image installer (`scripts/install.sh`) with `sh` and, when present,
 * busybox's: it lays out kubehook and its shims (`scripts/hook.sh`, `scripts/hook.js`) from a
 * release's files, checks their checksums and refuses a binary that does not run here. A shell
 * script stands in for the real kubehook binary.
 */
import assert from "node:assert/strict";
import { busybox, hookJs, includes, root, run, withTempDir } from "./support.ts";

const installSh = `${root}scripts/install.sh`;

/** A folder laid out like a release's files: the binary for this machine, shims, checksums. */
async function fakeRelease(dir: string): Promise<{ from: string; binaryName: string }> {
  const from = `${dir}/release`;
  await Deno.mkdir(from);
  const binaryName = `kubehook-${Deno.build.arch}-unknown-linux-gnu`;
  // Not executable, like a file fresh from a release download.
  await Deno.writeTextFile(`${from}/${binaryName}`, `#!/bin/sh\necho "kubehook 9.9.9 (fake)"\n`);
  await Deno.copyFile(`${root}scripts/hook.sh`, `${from}/hook.sh`);
  await Deno.copyFile(hookJs, `${from}/hook.js`);
  const sums = await run("sha256sum", [binaryName, "hook.sh", "hook.js"], { cwd: from });
  assert.deepEqual(sums.code, 0, sums.stderr);
  await Deno.writeTextFile(`${from}/SHA256SUMS`, sums.stdout);
  return { from, binaryName };
}

for (const shell of ["sh", ...(busybox ? [busybox] : [])]) {
  const shellArgs = shell === busybox ? ["sh", installSh] : [installSh];
  Deno.test(`install.sh (${shell}) lays out kubehook, hook.sh, hook.js and index.js`, () =>
    withTempDir(async (dir) => {
      const { from, binaryName } = await fakeRelease(dir);
      const dest = `${dir}/home/runner/k8s`;
      const result = await run(shell, [
        ...shellArgs,
        "--from",
        from,
        "--dest",
        dest,
        "--checksums",
        `${from}/SHA256SUMS`,
      ]);
      assert.deepEqual(result.code, 0, result.stderr);
      includes(result.stdout, "kubehook 9.9.9 (fake)");
      includes(result.stdout, `ACTIONS_RUNNER_CONTAINER_HOOKS=${dest}/hook.sh`);
      const expected: Record<string, string> = {
        "kubehook": binaryName,
        "hook.sh": "hook.sh",
        "hook.js": "hook.js",
        "index.js": "hook.js",
      };
      const installed = [...Deno.readDirSync(dest)].map((entry) => entry.name).sort();
      assert.deepEqual(installed, Object.keys(expected).sort());
      for (const [name, source] of Object.entries(expected)) {
        assert.deepEqual(
          await Deno.readFile(`${dest}/${name}`),
          await Deno.readFile(`${from}/${source}`),
          `${name} differs from ${source}`,
        );
        assert.deepEqual((await Deno.stat(`${dest}/${name}`)).mode! & 0o777, 0o755, name);
      }
    }));
}

Deno.test("install.sh rejects a binary whose checksum does not match and installs nothing", () =>
  withTempDir(async (dir) => {
    const { from } = await fakeRelease(dir);
    const dest = `${dir}/k8s`;
    const wrong = "ab".repeat(32);
    const result = await run("sh", [installSh, "--from", from, "--dest", dest, "--sha256", wrong]);
    assert.deepEqual(result.code, 1);
    includes(result.stderr, "checksum mismatch");
    includes(result.stderr, wrong);
    assert.ok(!(await exists(dest)), "install.sh created the destination despite the mismatch");
  }));

Deno.test("install.sh rejects a tampered shim listed in the checksums file", () =>
  withTempDir(async (dir) => {
    const { from } = await fakeRelease(dir);
    await Deno.writeTextFile(`${from}/hook.js`, "// tampered\n", { append: true });
    const dest = `${dir}/k8s`;
    const result = await run("sh", [
      installSh,
      "--from",
      from,
      "--dest",
      dest,
      "--checksums",
      `${from}/SHA256SUMS`,
    ]);
    assert.deepEqual(result.code, 1);
    includes(result.stderr, `checksum mismatch for ${from}/hook.js`);
    assert.ok(!(await exists(dest)));
  }));

Deno.test("install.sh refuses a binary that does not run on this machine", () =>
  withTempDir(async (dir) => {
    const { from, binaryName } = await fakeRelease(dir);
    await Deno.writeTextFile(
      `${from}/${binaryName}`,
      "#!/bin/sh\necho 'wrong ELF class' >&2\nexit 126\n",
    );
    const dest = `${dir}/k8s`;
    const result = await run("sh", [installSh, "--from", from, "--dest", dest, "--no-verify"]);
    assert.equal(result.code, 1);
    includes(result.stderr, "does not run on this machine (exit 126: wrong ELF class)");
    assert.deepEqual([...Deno.readDirSync(dest)], [], "install.sh left files behind");
  }));

Deno.test("install.sh verifies the release's SHA256SUMS without being asked", () =>
  withTempDir(async (dir) => {
    const { from, binaryName } = await fakeRelease(dir);
    await Deno.writeTextFile(`${from}/${binaryName}`, "# tampered\n", { append: true });
    const dest = `${dir}/k8s`;
    const result = await run("sh", [installSh, "--from", from, "--dest", dest]);
    assert.equal(result.code, 1);
    includes(result.stderr, `checksum mismatch for ${from}/${binaryName}`);
    assert.ok(!(await exists(dest)));
  }));

Deno.test("install.sh without SHA256SUMS stops, naming the file and --no-verify", () =>
  withTempDir(async (dir) => {
    const { from } = await fakeRelease(dir);
    await Deno.remove(`${from}/SHA256SUMS`);
    const dest = `${dir}/k8s`;
    const refused = await run("sh", [installSh, "--from", from, "--dest", dest]);
    assert.equal(refused.code, 1);
    includes(refused.stderr, `${from}/SHA256SUMS does not exist`);
    includes(refused.stderr, "--no-verify");
    assert.ok(!(await exists(dest)));
    const unverified = await run("sh", [installSh, "--from", from, "--dest", dest, "--no-verify"]);
    assert.equal(unverified.code, 0, unverified.stderr);
    includes(unverified.stdout, "kubehook 9.9.9 (fake)");
  }));

Deno.test("install.sh refuses a binary that is not kubehook (a compile on plain deno)", () =>
  withTempDir(async (dir) => {
    const { from, binaryName } = await fakeRelease(dir);
    await Deno.writeTextFile(`${from}/${binaryName}`, '#!/bin/sh\necho "deno 2.9.6 (stable)"\n');
    const dest = `${dir}/k8s`;
    const result = await run("sh", [installSh, "--from", from, "--dest", dest, "--no-verify"]);
    assert.equal(result.code, 1);
    includes(result.stderr, "is not kubehook: its --version printed 'deno 2.9.6 (stable)'");
    assert.deepEqual([...Deno.readDirSync(dest)], [], "install.sh left files behind");
  }));

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
