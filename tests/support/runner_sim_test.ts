import assert from "node:assert/strict";
import { jobContainer, serviceContainer } from "./containers.ts";
import { RunnerSim } from "./runner_sim.ts";

/** A stand-in for kubehook that runs steps on the host, mapping /__w to the simulator's <work>: it
 * lets the simulator be checked without a cluster. */
const FAKE_HOOK = `
const input = JSON.parse(await new Response(Deno.stdin.readable).text());
const work = Deno.env.get("RUNNER_WORKSPACE").replace(/\\/[^/]+$/, "");
const host = (s) => s.replaceAll("/__w", work).replaceAll('"', "");
let response = "";
if (input.command === "prepare_job") {
  console.log("cwd=" + Deno.cwd() + " services=" + input.args.services.length);
  response = JSON.stringify({ state: { jobPod: "p-workflow", calls: 1 }, context: { services: input.args.services.map(() => ({ id: "s", network: "", ports: {} })) }, isAlpine: false });
} else if (input.command === "run_script_step") {
  const a = input.args;
  const env = Object.fromEntries(Object.entries(a.environmentVariables).map(([k, v]) => [k, host(v)]));
  let child;
  Deno.addSignalListener("SIGINT", () => { console.log("cancelling"); child.kill("SIGTERM"); });
  child = new Deno.Command(host(a.entryPoint), { args: a.entryPointArgs.map(host), cwd: host(a.workingDirectory), env }).spawn();
  const status = await child.status;
  response = JSON.stringify({ state: { ...input.state, calls: input.state.calls + 1 } });
  Deno.writeTextFileSync(input.responseFile, response);
  Deno.exit(status.code);
} else if (input.command === "run_container_step") {
  const target = input.args.environmentVariables.GITHUB_OUTPUT.replace("/github/file_commands", work + "/_temp/_runner_file_commands");
  Deno.writeTextFileSync(target, "image=" + input.args.image + "\\n");
} else {
  console.log("state=" + JSON.stringify(input.state));
}
if (response) Deno.writeTextFileSync(input.responseFile, response);
`;

async function fakeHook(dir: string): Promise<string> {
  await Deno.writeTextFile(`${dir}/fake.js`, FAKE_HOOK);
  await Deno.writeTextFile(
    `${dir}/hook.sh`,
    `exec deno run -A --no-config --quiet "${dir}/fake.js"\n`,
  );
  return `${dir}/hook.sh`;
}

Deno.test("the simulator drives a hook like the runner: layout, state, steps, file commands", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using sim = await RunnerSim.create({ hook: await fakeHook(dir), repo: "demo" });
    for (
      const path of [
        "_temp/_github_home",
        "_temp/_github_workflow/event.json",
        "_temp/_runner_file_commands",
        "_actions",
        "_tool",
      ]
    ) {
      await Deno.stat(`${sim.work}/${path}`);
    }
    const prepared = await sim.prepareJob({
      container: jobContainer("node:20"),
      services: [serviceContainer("redis:7")],
    });
    assert.equal(prepared.code, 0, prepared.stderr);
    assert.equal(prepared.runnerError, undefined);
    assert.match(prepared.stdout, new RegExp(`cwd=${sim.workspace} services=1`));
    assert.deepEqual(sim.state, { jobPod: "p-workflow", calls: 1 });
    assert.deepEqual([...Deno.readDirSync(`${sim.temp}/_runner_hook_responses`)], []);

    const step = await sim.scriptStep(
      [
        'echo "out=$PWD"',
        'echo "A=1" >> "$GITHUB_ENV"',
        'printf "M<<EOF\\nx\\ny\\nEOF\\n" >> "$GITHUB_ENV"',
        'echo "result=ok" >> "$GITHUB_OUTPUT"',
        'echo "/opt/bin" >> "$GITHUB_PATH"',
        'echo "# Summary" >> "$GITHUB_STEP_SUMMARY"',
        "exit 3",
      ].join("\n"),
      { shell: "bash" },
    );
    assert.equal(step.code, 3);
    assert.match(step.stdout, new RegExp(`out=${sim.workspace}`));
    assert.deepEqual(step.fileCommands, {
      env: { A: "1", M: "x\ny" },
      output: { result: "ok" },
      state: {},
      path: ["/opt/bin"],
      summary: "# Summary\n",
    });
    assert.equal(step.runnerError, undefined);
    assert.deepEqual(sim.state, { jobPod: "p-workflow", calls: 2 });

    const action = await sim.containerStep(jobContainer("alpine:3", { workingDirectory: null }));
    assert.equal(action.code, 0, action.stderr);
    assert.deepEqual(action.fileCommands?.output, { image: "alpine:3" });

    const cleanup = await sim.cleanupJob();
    assert.match(cleanup.stdout, /state=\{"jobPod":"p-workflow","calls":2\}/);
    assert.equal(cleanup.response, null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the simulator streams output and cancels with SIGINT", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using sim = await RunnerSim.create({ hook: await fakeHook(dir) });
    await sim.prepareJob({ container: jobContainer("node:20"), services: [] });
    const run = await sim.startScriptStep("echo started\nexec sleep 30\n");
    await run.hook.waitForOutput("started");
    run.hook.cancel();
    const result = await run.result;
    assert.match(result.stdout, /cancelling/);
    assert.notEqual(result.code, 0);
    await assert.rejects(() => run.hook.waitForOutput("never printed"), /exited without printing/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the simulator reports responses the runner would reject", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/hook.sh`,
      'read -r line\necho "{}{}" > "$(echo "$line" | sed -E \'s/.*"responseFile":"([^"]+)".*/\\1/\')"\n',
    );
    await using sim = await RunnerSim.create({ hook: `${dir}/hook.sh` });
    const result = await sim.prepareJob({ container: null, services: [] });
    assert.match(result.runnerError ?? "", /not one JSON value/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
