/**
 * Black-box test of `deno task demo` (scripts/demo.ts): it runs as a user would run it, succeeds,
 * prints the job log the way the runner would (step headers, hook groups, the failing
 * continue-on-error step), the transfer summary, the outputs read back and the hook timings, and
 * leaves nothing behind in its temporary directory.
 */
import assert from "node:assert/strict";

const demo = new URL("../scripts/demo.ts", import.meta.url).pathname;

Deno.test("deno task demo runs a whole job and leaves nothing behind", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kubehook-demo-test-" });
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-prompt", demo],
      env: { TMPDIR: tmp, NO_COLOR: "1", RUNNER_DEBUG: "" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    const stdout = decoder.decode(output.stdout);
    const log = `${stdout}\n--- stderr\n${decoder.decode(output.stderr)}`;
    assert.equal(output.code, 0, log);
    // A working job warns about nothing (a step's push once came back as the pod's own changes).
    assert.doesNotMatch(stdout, /warning/i, log);

    const lines = stdout.split("\n");
    const expected = [
      "▶ Set up job (node:20, service nginx:1.27)",
      "  ▾ Preparing job pod",
      "▶ Run octo/hello-action@v1",
      /^ {2}Hello, kubehook! \(node v\d+.*\/__w\/_actions\/octo\/hello-action\/v1\/dist\/index\.js\)$/,
      "▶ Run ./ci/build.sh",
      "  the nginx service answered: Welcome to nginx!",
      /^ {2}\(runner host\) build\/artifact\.txt is back in the workspace: hello-kubehook 1\.4\.2/,
      "▶ Run docker://alpine:3",
      "  1 line in build/artifact.txt, built by hello-kubehook-1.4.2",
      "  Welcome to nginx!",
      "▶ Run octo/checksum-action@v2",
      /^ {2}[0-9a-f]{64} {2}build\/artifact\.txt$/,
      /^ {2}\(runner host\) build\/report\.txt came back from the container step: 1 line/,
      "▶ Run octo/greeting-action@v1",
      "  ▾ Building octo/greeting-action/v1",
      "  built by Kaniko in the cluster, hello kubehook",
      "▶ Run octo/greeting-action@v1",
      /^ {2}The image of octo\/greeting-action\/v1 was built before .*: not building it again\.$/,
      "  built by Kaniko in the cluster, hello kubehook",
      "▶ Run ./ci/lint.sh src",
      "  ▾ Linting src for hello-kubehook-1.4.2",
      "    app.js",
      "  Error: Process completed with exit code 2.",
      "  hello-kubehook-1.4.2",
      "▶ Complete job",
      // The service's requests from the build step, in its own log: docker mode shows it too.
      "  ▾ Service nginx logs",
      /^ {4}\S+ .*"GET \/ HTTP\/1\.[01]" 200|response:200/,
      "    Deleted pod runner-demo-workflow.",
      "── What was copied where",
      /^ {2}Set up job \(node:20, service nginx:1\.27\): Copied \d+ entries .* → pod \/__w /,
      "── Outputs the runner read back",
      "  Run octo/hello-action@v1: output greeting=Hello, kubehook",
      /^ {2}Run \.\/ci\/build\.sh: output version=1\.4\.2; output service=Welcome to nginx!; env BUILD_ID=hello-kubehook-1\.4\.2;/,
      "  Run docker://alpine:3: output lines=1",
      "── Time per hook call",
      /^ +\d+\.\d\d s {2}run_container_step exit 0 {2}Run docker:\/\/alpine:3$/,
      /^ +\d+\.\d\d s {2}run_script_step {4}exit 2 {2}Run \.\/ci\/lint\.sh src$/,
      /^Demo finished in [\d.]+ s: 10 hook calls, all as expected\.$/,
    ];
    // In this order: the log reads like a job, top to bottom.
    let at = 0;
    for (const want of expected) {
      const found = lines.findIndex((line, i) =>
        i >= at && (typeof want === "string" ? line === want : want.test(line))
      );
      assert.ok(found >= 0, `missing, after line ${at}: ${want}\n${log}`);
      at = found + 1;
    }
    // Workflow commands are acted on, never shown raw; debug lines stay hidden without RUNNER_DEBUG.
    assert.doesNotMatch(stdout, /^\s*::/m, log);
    assert.doesNotMatch(stdout, /\[debug\]/, log);

    assert.deepEqual([...Deno.readDirSync(tmp)].map((entry) => entry.name), [], log);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
