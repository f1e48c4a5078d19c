/**
 * `deno task cluster` as a user runs it: one ready line once the kubeconfig is in place, the
 * four contexts in it, and a clean exit 0 on SIGTERM that leaves nothing behind.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";

Deno.test("main: ready line, kubeconfig, clean exit on SIGTERM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kubehook-main-test-" });
  try {
    const kubeconfig = `${dir}/kubeconfig`;
    const stateDir = `${dir}/state`;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./main.ts", import.meta.url).pathname,
        "--kubeconfig",
        kubeconfig,
        "--state-dir",
        stateDir,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let output = "";
    while (!output.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) break;
      output += value;
    }
    assert.match(output, /^cluster ready: https:\/\/127\.0\.0\.1:\d+\n$/);
    const config = parse(await Deno.readTextFile(kubeconfig));
    assert.equal(config["current-context"], "admin");
    assert.deepEqual(config.contexts.map((c: { name: string }) => c.name).sort(), [
      "admin",
      "builder",
      "restricted",
      "runner",
    ]);
    assert.ok(
      config.contexts.every((c: { context: { namespace: string } }) =>
        c.context.namespace === "default"
      ),
    );
    assert.match(
      atob(config.clusters[0].cluster["certificate-authority-data"]),
      /BEGIN CERTIFICATE/,
    );
    const server = output.trim().split(" ").at(-1);
    assert.equal(config.clusters[0].cluster.server, server);

    child.kill("SIGTERM");
    const [status, rest] = await Promise.all([
      child.status,
      (async () => {
        let tail = "";
        for (let r = await lines.read(); !r.done; r = await lines.read()) tail += r.value;
        return tail;
      })(),
    ]);
    const stderr = await new Response(child.stderr).text();
    assert.equal(status.code, 0, stderr);
    assert.equal(rest, "", "exactly one line on stdout");
    assert.equal(await Deno.stat(kubeconfig).catch(() => null), null, "kubeconfig removed");
    assert.equal(await Deno.stat(stateDir).catch(() => null), null, "state dir removed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main: --help prints the usage and the options, exit 0", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./main.ts", import.meta.url).pathname, "--help"],
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  assert.match(text, /^usage: deno task cluster \[--real\] --kubeconfig FILE/);
  for (const option of ["--kubeconfig FILE", "--state-dir DIR", "--real", "--help"]) {
    assert.match(text, new RegExp(`^  ${option}`, "m"));
  }
});
