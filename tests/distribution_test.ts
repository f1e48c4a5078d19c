/**
 * Black-box tests of what kubehook ships besides its own code: the Node shim (`scripts/hook.js`),
 * the image installer (`scripts/install.sh`), the offline behaviour of `deno task compile`, and the
 * workflows and examples users copy. Fake `kubehook` binaries (shell scripts) stand in for the
 * real one, which needs network access to build.
 */
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { parseInvocation } from "../src/runner/input.ts";

const root = new URL("..", import.meta.url).pathname;
const hookJs = `${root}scripts/hook.js`;
const installSh = `${root}scripts/install.sh`;

function includes(text: string, part: string): void {
  assert.ok(text.includes(part), `expected ${JSON.stringify(part)} in:\n${text}`);
}

function available(command: string): boolean {
  try {
    return new Deno.Command(command, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
const hasNode = available("node");
const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});

interface Result {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, feeding `stdin` when given. */
async function run(
  command: string,
  args: string[],
  options: { stdin?: string; env?: Record<string, string>; clearEnv?: boolean; cwd?: string } = {},
): Promise<Result> {
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd,
    env: options.env,
    clearEnv: options.clearEnv,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    signal: output.signal,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** A temporary folder for one test, removed afterwards whatever happens. */
async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kubehook-dist-test-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeExecutable(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(path, text);
  await Deno.chmod(path, 0o755);
}

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
    const result = await run("sh", [installSh, "--from", from, "--dest", dest]);
    assert.equal(result.code, 1);
    includes(result.stderr, "does not run on this machine (exit 126: wrong ELF class)");
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

/** Runs `deno task compile`'s script with an empty DENO_DIR and Deno's download host unreachable. */
async function compileOffline(args: string[], env: Record<string, string> = {}): Promise<Result> {
  // A port that was free a moment ago refuses connections: the download fails at once, as it does
  // on a machine without network access, even on machines that have it.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadPort = (listener.addr as Deno.NetAddr).port;
  listener.close();
  let result: Result | undefined;
  await withTempDir(async (denoDir) => {
    result = await run(Deno.execPath(), ["run", "-A", `${root}scripts/compile.ts`, ...args], {
      cwd: root,
      // Only what is set here: a DENORT_BIN or proxy of the developer's must not leak in.
      clearEnv: true,
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: Deno.env.get("HOME") ?? denoDir,
        DENO_DIR: denoDir,
        HTTPS_PROXY: `http://127.0.0.1:${deadPort}`,
        NO_PROXY: "",
        NO_COLOR: "1",
        ...env,
      },
    });
    // The cache path in the message must be the DENO_DIR in use.
    const cached = `${denoDir}/dl/release/v${Deno.version.deno}/denort-`;
    if (!env.DENORT_BIN) includes(result.stderr, cached);
  });
  return result!;
}

Deno.test("compile without DENORT_BIN or network says denort cannot be downloaded and the fix", async () => {
  const target = "aarch64-unknown-linux-gnu";
  const result = await compileOffline(["--target", target]);
  assert.deepEqual(result.code, 1, result.stderr);
  const zip = `denort-${target}.zip`;
  includes(result.stderr, `cannot download https://dl.deno.land/release/v`);
  includes(result.stderr, zip);
  includes(result.stderr, `DENORT_BIN=/path/to/denort deno task compile --target ${target}`);
  includes(result.stderr, `https://github.com/denoland/deno/releases/download/`);
});

Deno.test("compile refuses a DENORT_BIN built for another architecture than the target", async () => {
  // The running deno is an ELF for this machine, like the denort for this machine's target.
  const other = Deno.build.arch === "x86_64"
    ? "aarch64-unknown-linux-gnu"
    : "x86_64-unknown-linux-gnu";
  const result = await compileOffline(["--target", other], { DENORT_BIN: Deno.execPath() });
  assert.deepEqual(result.code, 1, result.stderr);
  includes(result.stderr, `is built for ${Deno.build.arch}-unknown-linux-gnu`);
  includes(result.stderr, `--target ${other}`);
});

Deno.test("compile with DENORT_BIN builds the executable and embeds no type-only npm package", async () => {
  // The running deno stands in for denort: the result does not run, but everything up to it does
  // (flags, type check, embedding), with no download.
  await withTempDir(async (outDir) => {
    const target = `${Deno.build.arch}-unknown-linux-gnu`;
    const result = await run(
      Deno.execPath(),
      ["run", "-A", `${root}scripts/compile.ts`, "--target", target, "--out-dir", outDir],
      { cwd: root, env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" } },
    );
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    const output = `${result.stdout}\n${result.stderr}`;
    includes(output, `built ${outDir}/kubehook-${target}`);
    assert.ok(!output.includes("@kubernetes/client-node"), `client-node was embedded:\n${output}`);
    const mode = (await Deno.stat(`${outDir}/kubehook-${target}`)).mode!;
    assert.equal(mode & 0o111, 0o111, "the executable is not executable");
  });
});

const yamlFiles = [
  ...[...Deno.readDirSync(`${root}.github/workflows`)].map((e) => `.github/workflows/${e.name}`),
  "examples/rbac.yaml",
  "examples/arc/values.yaml",
  "examples/arc/hook-template.yaml",
];

for (const file of yamlFiles) {
  Deno.test(`${file} is valid YAML`, async () => {
    const documents = parseAllDocuments(await Deno.readTextFile(`${root}${file}`));
    assert.ok(Array.isArray(documents) && documents.length > 0, `${file} holds no YAML document`);
    for (const document of documents) {
      assert.deepEqual(document.errors.map((error) => error.message), [], file);
      assert.ok(document.toJS() !== null, `${file} has an empty document`);
    }
  });
}

Deno.test("the hook template in the ARC example's ConfigMap is itself valid YAML with a $job container", async () => {
  const [configMap] = parseAllDocuments(
    await Deno.readTextFile(`${root}examples/arc/hook-template.yaml`),
  ).map((document) => document.toJS());
  const [template] = parseAllDocuments(configMap.data["job-pod.yaml"]);
  assert.deepEqual(template.errors, []);
  const names = template.toJS().spec.containers.map((c: { name: string }) => c.name);
  assert.deepEqual(names, ["$job"]);
});

Deno.test("examples/rbac.yaml grants exactly the documented permissions", async () => {
  const objects = parseAllDocuments(await Deno.readTextFile(`${root}examples/rbac.yaml`))
    .map((document) => document.toJS());
  assert.deepEqual(objects.map((o) => o.kind), ["ServiceAccount", "Role", "RoleBinding"]);
  const role = objects[1];
  const granted = role.rules.map((
    rule: { apiGroups: string[]; resources: string[]; verbs: string[] },
  ) =>
    `${rule.apiGroups.join(",")}/${rule.resources.join(",")}: ${[...rule.verbs].sort().join(",")}`
  );
  assert.deepEqual(granted, [
    "/pods: create,delete,get,list,watch",
    "/pods/exec: create,get",
    "/pods/log: get",
    "/secrets: create,delete,get,list",
    "/events: list,watch",
  ]);
  const binding = objects[2];
  assert.deepEqual(binding.roleRef.name, role.metadata.name);
  assert.deepEqual(binding.subjects, [{
    kind: "ServiceAccount",
    name: objects[0].metadata.name,
    namespace: objects[0].metadata.namespace,
  }]);
});

Deno.test("tests/fixtures/prepare_job.json is a prepare_job invocation kubehook accepts", async () => {
  const invocation = parseInvocation(
    await Deno.readTextFile(`${root}tests/fixtures/prepare_job.json`),
  );
  assert.equal(invocation.command, "prepare_job");
});
