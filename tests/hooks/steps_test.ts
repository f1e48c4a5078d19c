/**
 * One job in a Debian job container, driven like the runner: the workspace the runner laid out is
 * in the pod, steps see their environment byte-exact and their PATH in the right order, file
 * commands and files the step writes come back to the host (also when the step fails), the hook
 * exits with the step's own exit code, and a JavaScript action runs with the externals' node.
 * A step whose upload the image's tar did not extract whole is never started.
 */
import assert from "node:assert/strict";
import { jobContainer } from "../support/runner_sim.ts";
import { EDGE_VALUES, printedValues, printValuesScript, SECRET } from "../support/edge_values.ts";
import { assertHookFailed, assertHookOk, HookCluster, logOf } from "./hook_cluster.ts";

Deno.test("a job container runs steps like the runner expects", async (t) => {
  await using hc = await HookCluster.start();
  await hc.job(
    t,
    "debian job: workspace, environment, PATH, file commands, exit codes",
    async ({ sim, t }) => {
      await Deno.writeTextFile(`${sim.workspace}/README.md`, "laid out by the runner\n");
      await Deno.mkdir(`${sim.workspace}/src/dir with space`, { recursive: true });
      await Deno.writeTextFile(`${sim.workspace}/src/dir with space/ünïcode.txt`, "nested ✓\n");

      const prepared = await sim.prepareJob({ container: jobContainer("debian:12"), services: [] });
      assertHookOk(prepared, "prepare_job");
      assert.equal((prepared.response as { isAlpine: boolean }).isAlpine, false);

      await t.step("the runner's workspace is in the pod", async () => {
        const step = await sim.scriptStep(
          'pwd\ncat README.md\ncat "src/dir with space/ünïcode.txt"\necho "HOME=$HOME CI=$CI GA=$GITHUB_ACTIONS"\n',
        );
        assertHookOk(step);
        assert.match(step.stdout, new RegExp(`^${sim.containerWorkspace}$`, "m"));
        assert.match(step.stdout, /^laid out by the runner$/m);
        assert.match(step.stdout, /^nested ✓$/m);
        assert.match(step.stdout, /^HOME=\/github\/home CI=true GA=true$/m);
      });

      await t.step(
        "environment values arrive byte-exact, secrets stay off command lines",
        async () => {
          const names = Object.keys(EDGE_VALUES);
          // base64 keeps every byte visible, including trailing newlines command substitution drops.
          const script = printValuesScript(names) +
            '\necho "EMPTY_IS=${EMPTY+set}"' +
            // Processes may end between the glob and the read (the step's follower polls).
            "\nfor f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' <\"$f\" 2>/dev/null || continue; echo; done\n";
          const step = await sim.scriptStep(script, {
            shell: "bash",
            env: { ...EDGE_VALUES, SECRET_TOKEN: SECRET },
          });
          assertHookOk(step);
          assert.deepEqual(printedValues(step.stdout, names), EDGE_VALUES);
          assert.match(step.stdout, /^EMPTY_IS=set$/m, "an empty value must be set, not dropped");
          assert.match(step.stdout, /^bash .*\/__w\/_temp\/[0-9a-f-]+\.sh $/m, "no process listed");
          assert.ok(
            !logOf(step).includes(SECRET),
            "a secret is visible in the log or a command line",
          );
        },
      );

      await t.step("a step that changes nothing brings nothing back", async () => {
        // The step's own upload (its script, the file-command files) must not count as a change.
        const step = await sim.scriptStep("true");
        assertHookOk(step);
        assert.doesNotMatch(logOf(step), /Copied \d+ entr\S* \(.*\) pod \/__w/);
      });

      await t.step("what a step changed comes back, summed up in a group", async () => {
        const step = await sim.scriptStep("echo made > made-by-step.txt");
        assertHookOk(step);
        assert.match(
          step.stdout,
          /::group::kubehook: the step's changes, back to the runner\nCopied \d+ entr\S* \([\d.]+ MB\) pod \/__w → \S+ in [\d.]+ s \([\d.]+ MB\/s\)\n::endgroup::/,
        );
        // The runner passed no RUNNER_DEBUG: debug details stay out of the log.
        assert.doesNotMatch(logOf(step), /::debug::/);
        assert.equal(await Deno.readTextFile(`${sim.workspace}/made-by-step.txt`), "made\n");
      });

      await t.step("prependPath comes before the image's PATH, newest first", async () => {
        for (const dir of ["bin-newest", "bin-older"]) {
          await Deno.mkdir(`${sim.workspace}/${dir}`, { recursive: true });
          await Deno.writeTextFile(
            `${sim.workspace}/${dir}/which-tool`,
            `#!/bin/sh\necho ${dir}\n`,
            {
              mode: 0o755,
            },
          );
        }
        const newest = `${sim.containerWorkspace}/bin-newest`;
        const older = `${sim.containerWorkspace}/bin-older`;
        const step = await sim.scriptStep(
          'echo "PATH=$PATH"\nwhich-tool\nls --version | head -n 1\n',
          {
            prependPath: [newest, older],
          },
        );
        assertHookOk(step);
        const path = step.stdout.match(/^PATH=(.*)$/m)?.[1] ?? "";
        assert.ok(path.startsWith(`${newest}:${older}:`), `PATH is ${path}`);
        assert.ok(path.split(":").includes("/usr/bin"), `the image's PATH is lost: ${path}`);
        assert.match(step.stdout, /^bin-newest$/m);
        assert.match(step.stdout, /GNU coreutils/);
      });

      await t.step("file commands reach the host", async () => {
        const step = await sim.scriptStep(
          [
            'echo "SIMPLE=plain value" >> "$GITHUB_ENV"',
            '{ echo "MULTI<<EOF_7c1"; echo "first line"; echo "second = line"; echo "EOF_7c1"; } >> "$GITHUB_ENV"',
            'echo "result=ok" >> "$GITHUB_OUTPUT"',
            `{ echo "json<<JSON_END"; echo '{"a": [1, 2]}'; echo "JSON_END"; } >> "$GITHUB_OUTPUT"`,
            'echo "saved=1" >> "$GITHUB_STATE"',
            'echo "/opt/added/bin" >> "$GITHUB_PATH"',
            'printf "### Summary ✓\\n\\n| a | b |\\n" >> "$GITHUB_STEP_SUMMARY"',
          ].join("\n"),
          { shell: "bash" },
        );
        assertHookOk(step);
        assert.deepEqual(step.fileCommands, {
          env: { SIMPLE: "plain value", MULTI: "first line\nsecond = line" },
          output: { result: "ok", json: '{"a": [1, 2]}' },
          state: { saved: "1" },
          path: ["/opt/added/bin"],
          summary: "### Summary ✓\n\n| a | b |\n",
        });
      });

      for (const code of [1, 3, 42, 255]) {
        await t.step(
          `a step exiting ${code} fails with ${code}, file commands intact`,
          async () => {
            const step = await sim.scriptStep(
              [
                `echo "code=${code}" >> "$GITHUB_OUTPUT"`,
                `printf "WHY<<END\\nexit\\n${code}\\nEND\\n" >> "$GITHUB_ENV"`,
                `echo "failed with ${code}" >> "$GITHUB_STEP_SUMMARY"`,
                `echo "failing with ${code}" >&2`,
                `exit ${code}`,
              ].join("\n"),
              { shell: code % 2 ? "bash" : "sh" },
            );
            assert.equal(step.code, code, logOf(step));
            assert.equal(step.runnerError, undefined);
            assert.match(logOf(step), new RegExp(`failing with ${code}`));
            assert.deepEqual(step.fileCommands?.output, { code: String(code) });
            assert.deepEqual(step.fileCommands?.env, { WHY: `exit\n${code}` });
            assert.equal(step.fileCommands?.summary, `failed with ${code}\n`);
          },
        );
      }

      await t.step("a JavaScript action runs with /__e/node20/bin/node", async () => {
        const step = await sim.nodeActionStep(
          [
            'const fs = require("node:fs");',
            'console.log("execPath=" + process.execPath);',
            'console.log("script=" + process.argv[1]);',
            'console.log("cwd=" + process.cwd());',
            'fs.appendFileSync(process.env.GITHUB_OUTPUT, "from-node=yes\\n");',
          ].join("\n"),
        );
        assertHookOk(step);
        assert.match(step.stdout, /^execPath=\/__e\/node20\/bin\/node$/m);
        assert.match(step.stdout, /^script=\/__w\/_actions\/o\/r\/v1\/dist\/index\.js$/m);
        assert.match(step.stdout, new RegExp(`^cwd=${sim.containerWorkspace}$`, "m"));
        assert.deepEqual(step.fileCommands?.output, { "from-node": "yes" });
      });

      await t.step("files a step writes are on the host after the step (hashFiles)", async () => {
        const step = await sim.scriptStep(
          'mkdir -p build\nprintf "artifact ✓\\n" > build/out.txt\necho changed >> README.md\n',
        );
        assertHookOk(step);
        assert.equal(await Deno.readTextFile(`${sim.workspace}/build/out.txt`), "artifact ✓\n");
        assert.equal(
          await Deno.readTextFile(`${sim.workspace}/README.md`),
          "laid out by the runner\nchanged\n",
        );
      });

      assertHookOk(await sim.cleanupJob(), "cleanup_job");
    },
  );

  await hc.job(t, "a step that unpacks an archive: the tree comes back whole, no warning", async ({
    sim,
  }) => {
    assertHookOk(
      await sim.prepareJob({ container: jobContainer("debian:12"), services: [] }),
      "prepare_job",
    );
    // Unpacked directories keep their old mtimes but are new (their ctime): each is "moved in"
    // and sent whole, so a file below two of them is in the pod's archive twice.
    const step = await sim.scriptStep(
      "mkdir -p /tmp/src/a/b/c && echo deep > /tmp/src/a/b/c/f && echo top > /tmp/src/a/g && " +
        "touch -d 2020-01-01 /tmp/src/a/b/c /tmp/src/a/b /tmp/src/a && " +
        "tar cf /tmp/x.tar -C /tmp/src a && tar xf /tmp/x.tar",
    );
    assertHookOk(step, "the step");
    assert.doesNotMatch(logOf(step), /warning/i);
    assert.equal(await Deno.readTextFile(`${sim.workspace}/a/b/c/f`), "deep\n");
    assert.equal(await Deno.readTextFile(`${sim.workspace}/a/g`), "top\n");
    assertHookOk(await sim.cleanupJob(), "cleanup_job");
  });

  await hc.job(t, "an image whose tar drops an entry of the upload: the step never starts", async ({
    sim,
  }) => {
    assertHookOk(
      await sim.prepareJob({ container: jobContainer("debian:12"), services: [] }),
      "prepare_job",
    );
    const pod = String(sim.state?.jobPod);
    // Extracts all but one file and lists only what it extracted, exiting 0.
    await hc.execInPod(
      pod,
      `printf '#!/bin/sh\\nexec /usr/bin/tar "$@" --exclude=dropped.txt\\n' >/usr/local/bin/tar ` +
        "&& chmod +x /usr/local/bin/tar",
    );
    await Deno.writeTextFile(`${sim.workspace}/dropped.txt`, "written by the runner\n");
    const log = assertHookFailed(await sim.scriptStep("touch /tmp/the-step-ran\n"), "the step");
    assert.match(
      log,
      new RegExp(
        `could not start the step in container "job" of pod "${pod}".*: kubehook: tar in the ` +
          "pod listed (\\d+) entries but (\\d+) were sent while extracting into /__w",
      ),
    );
    assert.match(log, /Use a job image whose tar is GNU tar or busybox tar\./);
    assert.equal(await hc.execInPod(pod, "ls /tmp/the-step-ran 2>/dev/null; true"), "");
    assertHookOk(await sim.cleanupJob(), "cleanup_job");
  });
});
