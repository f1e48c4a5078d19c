/**
 * Black-box tests of `deno task compile` (`scripts/compile.ts`) without network access: without
 * `DENORT_BIN` it says how to get denort, and with `DENORT_BIN` (the running deno standing in for
 * denort) it checks the architecture, builds, and refuses the result, which is plain Deno.
 */
import assert from "node:assert/strict";
import { includes, type Result, root, run, withTempDir } from "./support.ts";

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

Deno.test("compile refuses to ship what a plain deno as DENORT_BIN makes, and embeds no type-only npm package", async () => {
  // The running deno stands in for denort: everything up to the binary runs (flags, type check,
  // embedding, with no download), and the binary it makes is plain Deno, which must not ship.
  await withTempDir(async (outDir) => {
    const target = `${Deno.build.arch}-unknown-linux-gnu`;
    const result = await run(
      Deno.execPath(),
      ["run", "-A", `${root}scripts/compile.ts`, "--target", target, "--out-dir", outDir],
      { cwd: root, env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" } },
    );
    const output = `${result.stdout}\n${result.stderr}`;
    assert.equal(result.code, 1, output);
    includes(
      output,
      `the binary built for ${target} is not kubehook: its --version printed "deno `,
    );
    includes(output, `is not Deno's denort`);
    assert.ok(!output.includes("@kubernetes/client-node"), `client-node was embedded:\n${output}`);
    assert.deepEqual([...Deno.readDirSync(outDir)], [], "the plain-Deno binary was left behind");
  });
});
