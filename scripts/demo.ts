/**
 * `deno task demo`: one realistic GitHub Actions job, run by the real hooks against the local
 * cluster, printed the way the runner would log it. The job: a `node:20` job container with an
 * `nginx` service, a checked-out repository, a JavaScript action, a build step that sets outputs and
 * env and reads the service by its name, a `docker://alpine:3` step and a container action whose
 * image holds only one static binary (both in the job pod, reaching the service and writing the
 * workspace), a container action built from its Dockerfile in the cluster (and the same action
 * again, which finds its image built and builds nothing), a failing lint step with `continue-on-error`, a step using the earlier env, and
 * cleanup. Afterwards: what was copied where, the outputs the runner
 * read back, and the time each hook call took.
 *
 * It doubles as a smoke test: exit 0 only when every hook behaved as a working job needs (exit
 * codes, outputs, the artifact back on the host, nothing left in the namespace). Set
 * `RUNNER_DEBUG=1` to see the hooks' `::debug::` lines as well.
 *
 * @module
 */
import { type Cluster, startCluster } from "../tests/cluster/harness.ts";
import { ensureClusterPrerequisites, PrerequisiteError } from "../tests/cluster/prerequisites.ts";
import { type Container, containerOf } from "../src/runner/input.ts";
import {
  type HookResult,
  jobContainer,
  runnerArgs,
  RunnerSim,
  serviceContainer,
  type StepOptions,
} from "../tests/support/runner_sim.ts";

const DEBUG = Deno.env.get("RUNNER_DEBUG") === "1";
/** The hooks' transfer summaries (copies to and from the pod) and step uploads (a debug line). */
const TRANSFER_LINE = /^(?:::debug::)?((?:Copied |step upload: ).*)$/;

/** The repository "checked out" into GITHUB_WORKSPACE, path → content; `*.sh` are executable. */
const REPOSITORY: Record<string, string> = {
  "package.json": '{\n  "name": "hello-kubehook",\n  "version": "1.4.2"\n}\n',
  "README.md": "# hello-kubehook\n\nA tiny project built by the kubehook demo.\n",
  "src/app.js": 'console.log("hello from app.js")\n',
  "ci/build.sh": `#!/bin/sh
set -e
version=$(sed -n 's/.*"version": "\\(.*\\)".*/\\1/p' package.json)
mkdir -p build
echo "hello-kubehook $version built in $(hostname)" > build/artifact.txt
echo "built build/artifact.txt (version $version)"
`,
  "ci/lint.sh": `#!/bin/sh
echo "::group::Linting $1 for $BUILD_ID"
ls "$1"
echo "::endgroup::"
echo "$1/app.js:1:34: missing semicolon" >&2
exit 2
`,
};

const ACTION_SOURCE = `const fs = require("node:fs");
const who = process.env.INPUT_WHO;
console.log(\`Hello, \${who}! (node \${process.version}, \${process.argv[1]})\`);
fs.appendFileSync(process.env.GITHUB_OUTPUT, \`greeting=Hello, \${who}\\n\`);
`;

const BUILD_SCRIPT = `./ci/build.sh
version=$(cut -d' ' -f2 build/artifact.txt)
page=$(curl -fsS http://nginx:80 2>/dev/null || busybox wget -qO- http://nginx:80)
title=$(echo "$page" | grep -o "Welcome to nginx!" | head -n 1)
echo "the nginx service answered: $title"
echo "version=$version" >> "$GITHUB_OUTPUT"
echo "service=$title" >> "$GITHUB_OUTPUT"
echo "BUILD_ID=hello-kubehook-$version" >> "$GITHUB_ENV"
echo "### Build ✓" >> "$GITHUB_STEP_SUMMARY"
`;

/** A `docker://alpine:3` step: it reads the build's artifact from the workspace, asks the nginx
 * service (on localhost, as well as by name), and writes a report back and an output. */
const REPORT_SCRIPT = `n=$(wc -l < build/artifact.txt)
echo "$n line in build/artifact.txt, built by $BUILD_ID" | tee build/report.txt
wget -qO- http://localhost:80 | grep -o "Welcome to nginx!"
echo "lines=$n" >> "$GITHUB_OUTPUT"`;

/** One hook call as the demo records it. */
interface Call {
  title: string;
  hook: string;
  result: HookResult;
  seconds: number;
}

/** Renders hook output the way the runner shows it: groups indented, commands acted on (none
 * between `::stop-commands::TOKEN` and `::TOKEN::`). */
class JobLog {
  #masks = new Set<string>();

  render(text: string): string[] {
    const lines: string[] = [];
    let depth = 1;
    /** Set by `::stop-commands::TOKEN`: until `::TOKEN::` every line is text. */
    let stoppedUntil: string | undefined;
    const push = (text: string) => {
      for (const line of text.split("\n")) lines.push(`${"  ".repeat(depth)}${this.#mask(line)}`);
    };
    for (const line of text.split("\n")) {
      if (stoppedUntil !== undefined) {
        if (line === stoppedUntil) stoppedUntil = undefined;
        else push(line);
        continue;
      }
      const command = /^::([a-z-]+)( [^:]*)?::(.*)$/.exec(line);
      if (command === null) {
        if (line !== "") push(line);
        continue;
      }
      const [, name, , escaped] = command;
      const data = escaped.replaceAll("%0D", "\r").replaceAll("%0A", "\n").replaceAll("%25", "%");
      if (name === "group") {
        push(`▾ ${data}`);
        depth++;
      } else if (name === "endgroup") depth = Math.max(1, depth - 1);
      else if (name === "add-mask") this.#masks.add(data);
      else if (name === "debug") DEBUG && push(`[debug] ${data}`);
      else if (name === "stop-commands") stoppedUntil = `::${data}::`;
      else push(`${name[0].toUpperCase()}${name.slice(1)}: ${data}`);
    }
    return lines;
  }

  #mask(line: string): string {
    for (const secret of this.#masks) line = line.replaceAll(secret, "***");
    return line;
  }
}

const calls: Call[] = [];
const problems: string[] = [];
const log = new JobLog();

function expect(ok: boolean, problem: string): void {
  if (!ok) problems.push(problem);
}

/** Runs one hook call under a runner-style header (a title and detail lines) and prints its log. */
async function hookCall(
  [title, ...details]: string[],
  hook: string,
  run: () => Promise<HookResult>,
  expectedCode = 0,
): Promise<HookResult> {
  console.log(`\n▶ ${title}`);
  for (const line of details) console.log(`  │ ${line}`);
  const started = performance.now();
  const result = await run();
  calls.push({ title, hook, result, seconds: (performance.now() - started) / 1000 });
  for (const line of log.render(`${result.stdout}\n${result.stderr}`)) console.log(line);
  if (result.code !== 0) console.log(`  Error: Process completed with exit code ${result.code}.`);
  expect(result.code === expectedCode, `${title}: exit code ${result.code}, not ${expectedCode}`);
  expect(
    result.runnerError === undefined,
    `${title}: the runner would fail: ${result.runnerError}`,
  );
  return result;
}

/** A `run:` step's header: the script's first line, the rest of the script beneath it. */
function scriptHeader(script: string, ...details: string[]): string[] {
  const [first, ...rest] = script.trimEnd().split("\n");
  return [`Run ${first}`, ...rest, ...details];
}

async function checkout(workspace: string): Promise<void> {
  for (const [path, content] of Object.entries(REPOSITORY)) {
    const file = `${workspace}/${path}`;
    await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(file, content);
    if (path.endsWith(".sh")) await Deno.chmod(file, 0o755);
  }
}

async function runJob(): Promise<void> {
  console.log("Starting the local cluster…");
  await using cluster = await startCluster();
  const { registry } = cluster;
  await using sim = await RunnerSim.create({
    repo: "hello-kubehook",
    env: {
      KUBECONFIG: cluster.kubeconfigPath,
      // The runner's Role with the rules Dockerfile builds add (examples/rbac.yaml).
      KUBEHOOK_CONTEXT: "builder",
      ACTIONS_RUNNER_POD_NAME: "runner-demo",
      ACTIONS_RUNNER_IMAGE: "ghcr.io/actions/actions-runner:latest",
      // Dockerfile actions are built into the local cluster's registry; its Docker Hub mirror
      // stands in for Docker Hub, which the builder cannot reach here.
      ACTIONS_RUNNER_CONTAINER_HOOKS_K8S_REGISTRY_HOST: `${registry.host}/actions`,
      ACTIONS_RUNNER_CONTAINER_HOOKS_K8S_REGISTRY_SECRET_NAME: REGISTRY_SECRET,
      KUBEHOOK_REGISTRY_INSECURE: "true",
      KUBEHOOK_BUILDER_ARGS: `--registry-mirror=${registry.mirror}`,
      // The hook runs on this host, not in a pod: it reaches the registry through its proxy.
      http_proxy: registry.proxyUrl,
      ...(DEBUG ? { RUNNER_DEBUG: "1" } : {}),
    },
  });
  await createRegistrySecret(cluster);
  console.log(`Cluster at ${cluster.url}; runner work directory ${sim.work}`);
  await checkout(sim.workspace);
  console.log(`Checked out ${Object.keys(REPOSITORY).length} files into ${sim.workspace}`);

  const prepared = await hookCall(
    ["Set up job (node:20, service nginx:1.27)"],
    "prepare_job",
    () =>
      sim.prepareJob({
        container: jobContainer("node:20", { workingDirectory: sim.containerWorkspace }),
        services: [serviceContainer("nginx:1.27", {
          portMappings: ["80"],
          // As a workflow written for docker mode has them: a health check the first step waits
          // for, and limits.
          createOptions: `--health-cmd "wget -q -O /dev/null http://127.0.0.1:80/" ` +
            "--health-interval 2s --cpus 0.5 --memory 128m",
        })],
      }),
  );
  const context = (prepared.response as { context?: { services?: { ports?: object }[] } } | null)
    ?.context;
  expect(
    JSON.stringify(context?.services?.[0]?.ports) === '{"80":"80"}',
    `prepare_job: the response does not map the nginx service's port 80: ${
      JSON.stringify(prepared.response)
    }`,
  );
  for (const pod of cluster.listPods()) {
    const containers = pod.spec?.containers.map((c) => `${c.name} (${c.image})`).join(", ");
    console.log(`  pod ${pod.metadata?.name}: ${pod.status?.phase}; containers ${containers}`);
  }
  // Without a job pod every step would fail the same way; the runner skips to cleanup too.
  if (prepared.code === 0) await runSteps(sim);

  await hookCall(["Complete job"], "cleanup_job", () => sim.cleanupJob());
  for (const resource of ["pods", "secrets"]) {
    const response = await cluster.fetch(`/api/v1/namespaces/default/${resource}`);
    const left = (((await response.json()).items ?? []) as { metadata: { name: string } }[])
      // The registry's Secret is the user's, made before the job, not kubehook's.
      .filter((o) => o.metadata.name !== REGISTRY_SECRET);
    expect(left.length === 0, `cleanup left ${resource}: ${left.map((o) => o.metadata.name)}`);
  }
  printSummary();
  console.log("\nStopping the local cluster…");
}

/** The job's steps, each checked for what the runner would read back. */
async function runSteps(sim: RunnerSim): Promise<void> {
  const jobEnv: Record<string, string> = {};
  const step = (header: string[], run: (options: StepOptions) => Promise<HookResult>, code = 0) =>
    hookCall(header, "run_script_step", () => run({ env: { ...jobEnv } }), code).then((r) => {
      // Like the runner: GITHUB_ENV values reach every later step.
      Object.assign(jobEnv, r.fileCommands?.env);
      return r;
    });

  const action = await step(
    ["Run octo/hello-action@v1", "with: who=kubehook"],
    (options) =>
      sim.nodeActionStep(ACTION_SOURCE, "octo/hello-action/v1", {
        ...options,
        env: { ...options.env, INPUT_WHO: "kubehook" },
      }),
  );
  expect(
    action.fileCommands?.output.greeting === "Hello, kubehook",
    "the node action's greeting output did not come back",
  );

  const build = await step(scriptHeader(BUILD_SCRIPT), (o) => sim.scriptStep(BUILD_SCRIPT, o));
  expect(
    build.fileCommands?.output.version === "1.4.2",
    "the build step's version output is wrong",
  );
  expect(
    build.fileCommands?.output.service === "Welcome to nginx!",
    "the build step could not read the nginx service by its name",
  );
  const artifact = await Deno.readTextFile(`${sim.workspace}/build/artifact.txt`).catch(() => "");
  console.log(`  (runner host) build/artifact.txt is back in the workspace: ${artifact.trim()}`);
  expect(artifact.startsWith("hello-kubehook 1.4.2"), "build/artifact.txt did not come back");

  const container = (header: string[], step: Container) =>
    hookCall(
      header,
      "run_container_step",
      () =>
        sim.containerStep({
          ...step,
          environmentVariables: { ...jobEnv, ...step.environmentVariables },
        }),
    );
  const report = await container(
    ["Run docker://alpine:3", "sh -c <report script>"],
    containerOf("alpine:3", {
      entryPoint: "sh",
      entryPointArgs: runnerArgs(["-c", REPORT_SCRIPT]),
    }),
  );
  expect(
    report.fileCommands?.output.lines === "1",
    "the docker:// step's output did not come back",
  );
  expect(
    report.stdout.includes("Welcome to nginx!"),
    "the docker:// step could not reach the nginx service over localhost",
  );
  const checksum = await container(
    [
      "Run octo/checksum-action@v2",
      "runs.using: docker, image: distroless.local/app:1 (only /app)",
    ],
    containerOf("distroless.local/app:1", {
      entryPointArgs: runnerArgs(["sha256sum", "build/artifact.txt"]),
    }),
  );
  expect(
    /^[0-9a-f]{64} {2}build\/artifact.txt$/m.test(checksum.stdout),
    "the distroless action failed",
  );
  const reportFile = await Deno.readTextFile(`${sim.workspace}/build/report.txt`).catch(() => "");
  console.log(
    `  (runner host) build/report.txt came back from the container step: ${reportFile.trim()}`,
  );
  expect(reportFile.includes("1 line"), "build/report.txt did not come back");

  // A container action whose image is its Dockerfile: built in the cluster, then run; the same
  // action again (another job, the same version) finds its image built and builds nothing.
  const dockerfile = await writeDockerfileAction(sim.work);
  const greet = () =>
    container(
      ["Run octo/greeting-action@v1", "runs.using: docker, image: Dockerfile"],
      containerOf(null as unknown as string, {
        image: null,
        dockerfile,
        entryPointArgs: runnerArgs(["kubehook"]),
      }),
    );
  const built = await greet();
  expect(
    built.stdout.includes("::group::Building octo/greeting-action/v1") &&
      built.fileCommands?.output.greeting === "built by Kaniko in the cluster, hello kubehook",
    "the Dockerfile action was not built and run",
  );
  const reused = await greet();
  expect(
    /built before .*not building it again/.test(reused.stdout) &&
      reused.fileCommands?.output.greeting === "built by Kaniko in the cluster, hello kubehook",
    "the Dockerfile action was built twice",
  );

  const lint = "./ci/lint.sh src";
  await step(scriptHeader(lint, "continue-on-error: true"), (o) => sim.scriptStep(lint, o), 2);
  console.log("  (continue-on-error: the step failed and the job goes on)");

  const show = 'echo "$BUILD_ID" && cat build/artifact.txt';
  const after = await step(scriptHeader(show), (o) => sim.scriptStep(show, o));
  expect(after.stdout.includes("hello-kubehook-1.4.2"), "BUILD_ID from GITHUB_ENV did not arrive");
}

const REGISTRY_SECRET = "registry-push";

/** The registry's `kubernetes.io/dockerconfigjson` Secret, as `kubectl create secret
 * docker-registry` makes it, for every name the registry goes by. */
async function createRegistrySecret(cluster: Cluster): Promise<void> {
  const { registry } = cluster;
  const auth = btoa(`${registry.username}:${registry.password}`);
  const auths = Object.fromEntries(
    [registry.host, registry.nodeHost].map((host) => [host, { auth }]),
  );
  const response = await cluster.fetch("/api/v1/namespaces/default/secrets", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      metadata: { name: REGISTRY_SECRET },
      type: "kubernetes.io/dockerconfigjson",
      data: { ".dockerconfigjson": btoa(JSON.stringify({ auths })) },
    }),
  });
  expect(response.status === 201, `the registry secret: ${await response.text()}`);
}

/** The action as the runner downloads it under `<work>/_actions`; returns its Dockerfile. */
async function writeDockerfileAction(work: string): Promise<string> {
  const dir = `${work}/_actions/octo/greeting-action/v1`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/Dockerfile`,
    `FROM alpine:3
RUN echo "built by Kaniko in the cluster" > /etc/greeting
COPY entrypoint.sh /entrypoint.sh
ENTRYPOINT ["/entrypoint.sh"]
`,
  );
  await Deno.writeTextFile(
    `${dir}/entrypoint.sh`,
    `#!/bin/sh
echo "$(cat /etc/greeting), hello $1"
echo "greeting=$(cat /etc/greeting), hello $1" >> "$GITHUB_OUTPUT"
`,
  );
  await Deno.chmod(`${dir}/entrypoint.sh`, 0o755);
  return `${dir}/Dockerfile`;
}

function printSummary(): void {
  console.log("\n── What was copied where");
  for (const { title, result } of calls) {
    for (const line of `${result.stdout}\n${result.stderr}`.split("\n")) {
      const transfer = TRANSFER_LINE.exec(line)?.[1];
      if (transfer) console.log(`  ${title}: ${transfer}`);
    }
  }
  console.log("\n── Outputs the runner read back");
  for (const { title, result } of calls) {
    const commands = result.fileCommands;
    if (!commands) continue;
    const read = [
      ...Object.entries(commands.output).map(([k, v]) => `output ${k}=${v}`),
      ...Object.entries(commands.env).map(([k, v]) => `env ${k}=${v}`),
      ...(commands.summary ? [`summary ${JSON.stringify(commands.summary.trim())}`] : []),
    ];
    console.log(`  ${title}: ${read.join("; ") || "nothing"}`);
  }
  console.log("\n── Time per hook call");
  for (const { title, hook, result, seconds } of calls) {
    const time = `${seconds.toFixed(2).padStart(6)} s`;
    console.log(`  ${time}  ${hook.padEnd(18)} exit ${result.code}  ${title}`);
  }
  const total = calls.reduce((sum, call) => sum + call.seconds, 0);
  console.log(`  ${total.toFixed(2).padStart(6)} s  in all`);
}

async function main(): Promise<number> {
  try {
    await ensureClusterPrerequisites({ install: true, log: console.log });
  } catch (error) {
    if (!(error instanceof PrerequisiteError)) throw error;
    console.error(error.message);
    return 1;
  }
  const started = performance.now();
  try {
    await runJob();
  } catch (error) {
    console.error(`\nThe demo stopped: ${(error as Error).message}`);
    return 1;
  }
  if (problems.length > 0) {
    console.error(`\nThe demo found ${problems.length} problem(s):`);
    for (const problem of problems) console.error(`  ✗ ${problem}`);
    return 1;
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`Demo finished in ${seconds} s: ${calls.length} hook calls, all as expected.`);
  return 0;
}

Deno.exit(await main());
