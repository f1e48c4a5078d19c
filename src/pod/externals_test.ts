import assert from "node:assert/strict";
import {
  externalsCopyCommand,
  externalsCopyFailed,
  externalsWaitScript,
  readExternalsWait,
} from "./externals.ts";

/** Runs `script` with `sh`, `env` added; resolves with its exit code and output. */
async function sh(script: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command("sh", { args: ["-c", script], env }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** The externals container's command copying `from` into `to`, as a running process. */
function startCopy(from: string, to: string) {
  const [command, ...args] = externalsCopyCommand(from, to);
  return new Deno.Command(command, { args, stdout: "null", stderr: "piped" }).spawn();
}

async function withDirs(body: (dirs: { runner: string; volume: string }) => Promise<void>) {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/runner/node20/bin`, { recursive: true });
    await Deno.writeTextFile(`${root}/runner/node20/bin/node`, "#!/bin/sh\n");
    await Deno.mkdir(`${root}/volume`);
    await body({ runner: `${root}/runner`, volume: `${root}/volume` });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("the externals container copies, marks the copy done, stays up and stops on SIGTERM", async () => {
  await withDirs(async ({ runner, volume }) => {
    const copy = startCopy(runner, volume);
    // The wait's bound only keeps a broken script from hanging the test.
    const waited = await sh(`${externalsWaitScript(60_000, volume)}\necho after`);
    assert.equal(waited.code, 0);
    assert.deepEqual(readExternalsWait(waited.stdout), { state: "ready", rest: "after\n" });
    assert.equal(await Deno.readTextFile(`${volume}/node20/bin/node`), "#!/bin/sh\n");
    assert.deepEqual((await Array.fromAsync(Deno.readDir(volume))).map((e) => e.name).sort(), [
      ".kubehook-copied",
      "node20",
    ]);
    // Still up: its shell waits for the keep-alive's sleep (bounded, so a broken script fails).
    const children = `/proc/${copy.pid}/task/${copy.pid}/children`;
    for (let i = 0; (await Deno.readTextFile(children)).trim() === ""; i++) {
      assert.ok(i < 1000, "the externals container ended after its copy");
      await new Promise((r) => setTimeout(r, 10));
    }
    copy.kill("SIGTERM");
    assert.equal((await copy.status).code, 0, "the keep-alive ends on SIGTERM");
    await copy.stderr.cancel();
  });
});

Deno.test("a failed copy exits 1 saying why, and the wait answers with what cp said", async () => {
  await withDirs(async ({ runner, volume }) => {
    const copy = startCopy(`${runner}/missing`, volume);
    const [status, stderr] = await Promise.all([copy.status, new Response(copy.stderr).text()]);
    assert.equal(status.code, 1);
    assert.match(stderr, /missing/);
    const waited = await sh(`${externalsWaitScript(60_000, volume)}\necho after`);
    const state = readExternalsWait(waited.stdout);
    assert.equal(state.state, "failed");
    assert.equal(state.state === "failed" && state.output, stderr.trim());
    assert.equal(state.rest, "", "the script ends after a failure");
    assert.match(
      externalsCopyFailed("debian:12", state.state === "failed" ? state.output : ""),
      /ACTIONS_RUNNER_IMAGE \(debian:12\) to \/__e: cp: .*missing.*\. Set ACTIONS_RUNNER_IMAGE/,
    );
  });
});

Deno.test("a failed copy's output reaches the host bounded", async () => {
  await withDirs(async ({ volume }) => {
    await Deno.writeTextFile(`${volume}/.kubehook-copy.log`, "x".repeat(10_000));
    await Deno.writeTextFile(`${volume}/.kubehook-failed`, "");
    const state = readExternalsWait((await sh(externalsWaitScript(0, volume))).stdout);
    assert.equal(state.state === "failed" && state.output.length, 4096);
  });
});

Deno.test("a copy still running after the wait's bound is answered 'copying', and the script goes on", async () => {
  await withDirs(async ({ volume }) => {
    const waited = await sh(`${externalsWaitScript(300, volume)}\necho after`);
    assert.deepEqual(readExternalsWait(waited.stdout), { state: "copying", rest: "after\n" });
  });
});

Deno.test("where sleep takes no fractions, the wait sleeps whole seconds, as many as its bound", async () => {
  await withDirs(async ({ volume }) => {
    const bin = await Deno.makeTempDir();
    const calls = `${bin}/calls`;
    // A sleep that refuses fractions, as POSIX allows, and records each call.
    await Deno.writeTextFile(
      `${bin}/sleep`,
      `#!/bin/sh\necho "$1" >>'${calls}'\ncase "$1" in *.*) exit 1;; esac\n`,
      { mode: 0o755 },
    );
    try {
      const waited = await sh(externalsWaitScript(1500, volume), {
        PATH: `${bin}:${Deno.env.get("PATH")}`,
      });
      assert.equal(readExternalsWait(waited.stdout).state, "copying");
      assert.deepEqual((await Deno.readTextFile(calls)).trim().split("\n"), ["0.01", "1", "1"]);
    } finally {
      await Deno.remove(bin, { recursive: true });
    }
  });
});

Deno.test("an answer that is not the wait's names what came instead", () => {
  assert.throws(() => readExternalsWait("sh: syntax error\n"), /answered "sh: syntax error"/);
  assert.throws(() => readExternalsWait(""), /answered ""/);
});
