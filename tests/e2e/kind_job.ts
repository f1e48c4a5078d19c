/**
 * One job through kubehook against a real Kubernetes cluster (kind in the e2e workflow), driven the
 * way the runner drives it (tests/support/runner_sim.ts) and authorized as the runner would be: with
 * a token of the ServiceAccount bound to examples/rbac.yaml's Role. prepare_job with a busybox job
 * container and a redis service, a step that reaches the service and writes an output, a step that
 * fails with exit code 3, cleanup_job; then nothing of the job may be left in the namespace.
 *
 * Usage (kubectl's current context must be allowed to create tokens and list pods):
 *   kubectl create namespace arc-runners && kubectl apply -f examples/rbac.yaml
 *   deno run -A tests/e2e/kind_job.ts [--namespace arc-runners] [--service-account kubehook-runner]
 *
 * @module
 */
import { jobContainer, serviceContainer } from "../support/containers.ts";
import { type HookResult, RunnerSim } from "../support/runner_sim.ts";

/** The name the job's objects carry as their runner pod; no such pod exists outside a cluster. */
const RUNNER_POD = "kubehook-e2e-runner";
/** How long cleanup_job's deletions may take to disappear from the API. */
const GONE_WITHIN_MS = 60_000;

function option(args: string[], name: string, fallback: string): string {
  const index = args.indexOf(name);
  return index >= 0 && args[index + 1] ? args[index + 1] : fallback;
}

async function kubectl(...args: string[]): Promise<string> {
  const output = await new Deno.Command("kubectl", { args, stdout: "piped", stderr: "piped" })
    .output();
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(`kubectl ${args.join(" ")} failed: ${decoder.decode(output.stderr).trim()}`);
  }
  return decoder.decode(output.stdout).trim();
}

/** A kubeconfig for the ServiceAccount's token on the current context's cluster. */
async function serviceAccountKubeconfig(
  dir: string,
  namespace: string,
  account: string,
): Promise<string> {
  const current = JSON.parse(await kubectl("config", "view", "--raw", "--minify", "-o", "json"));
  const token = await kubectl("create", "token", account, "-n", namespace, "--duration", "1h");
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "e2e", cluster: current.clusters[0].cluster }],
    users: [{ name: account, user: { token } }],
    contexts: [{ name: "e2e", context: { cluster: "e2e", user: account, namespace } }],
    "current-context": "e2e",
  };
  const path = `${dir}/runner.kubeconfig`;
  // JSON is YAML: any kubeconfig reader takes it.
  await Deno.writeTextFile(path, JSON.stringify(config), { mode: 0o600 });
  return path;
}

function expect(condition: boolean, what: string, result?: HookResult): void {
  if (condition) return;
  const detail = result
    ? `\nexit ${result.code}; runner: ${result.runnerError ?? "ok"}\n--- stdout\n${result.stdout}` +
      `\n--- stderr\n${result.stderr}`
    : "";
  throw new Error(`${what}${detail}`);
}

/** Lists what is left of the job, waiting for deletions in progress. */
async function leftovers(namespace: string): Promise<string> {
  const deadline = Date.now() + GONE_WITHIN_MS;
  for (;;) {
    const left = [
      await kubectl("get", "pods", "-n", namespace, "-o", "name"),
      await kubectl(
        "get",
        "secrets",
        "-n",
        namespace,
        "-l",
        `runner-pod=${RUNNER_POD}`,
        "-o",
        "name",
      ),
    ].filter((names) => names !== "").join("\n");
    if (left === "" || Date.now() > deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

async function main(args: string[]): Promise<void> {
  const namespace = option(args, "--namespace", "arc-runners");
  const account = option(args, "--service-account", "kubehook-runner");
  const dir = await Deno.makeTempDir({ prefix: "kubehook-e2e-" });
  try {
    const kubeconfig = await serviceAccountKubeconfig(dir, namespace, account);
    await using sim = await RunnerSim.create({
      echo: true,
      env: {
        KUBECONFIG: kubeconfig,
        ACTIONS_RUNNER_POD_NAME: RUNNER_POD,
        ACTIONS_RUNNER_KUBERNETES_NAMESPACE: namespace,
      },
    });

    console.log(`::group::prepare_job in ${namespace} as ${account}`);
    const prepared = await sim.prepareJob({
      container: jobContainer("busybox:1.36"),
      services: [serviceContainer("redis:7-alpine", { portMappings: ["6379"] })],
    });
    console.log("::endgroup::");
    expect(prepared.code === 0 && !prepared.runnerError, "prepare_job failed", prepared);
    const response = prepared.response as {
      isAlpine: boolean;
      context?: { services?: { ports: Record<string, string> }[] };
    };
    expect(response.isAlpine === false, "busybox was reported as Alpine", prepared);
    expect(response.context?.services?.length === 1, "the redis service is not in the response");

    // Services share the job pod's network: redis answers on localhost once it has started.
    const reach = await sim.scriptStep([
      'echo "hello from $(hostname)"',
      "for i in $(seq 1 30); do",
      "  reply=$(printf 'PING\\r\\n' | nc -w 2 127.0.0.1 6379 || true)",
      '  case "$reply" in *PONG*) break ;; esac',
      "  sleep 1",
      "done",
      'echo "redis: $reply"',
      'echo "greeting=hi" >> "$GITHUB_OUTPUT"',
    ].join("\n"));
    expect(reach.code === 0, "the first step failed", reach);
    expect(reach.stdout.includes("redis: +PONG"), "the step did not reach redis", reach);
    expect(reach.fileCommands?.output.greeting === "hi", "GITHUB_OUTPUT did not come back", reach);

    const failing = await sim.scriptStep('echo "failing on purpose" >&2\nexit 3');
    expect(failing.code === 3, "the failing step did not exit with code 3", failing);
    expect(failing.stderr.includes("failing on purpose"), "the step's stderr is missing", failing);

    console.log("::group::cleanup_job");
    const cleaned = await sim.cleanupJob();
    console.log("::endgroup::");
    expect(cleaned.code === 0, "cleanup_job failed", cleaned);

    const left = await leftovers(namespace);
    expect(left === "", `objects left in ${namespace} after cleanup_job:\n${left}`);
    console.log("e2e: prepare_job, 2 steps, cleanup_job passed; nothing left in the namespace");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (error) {
    console.error(`::error::e2e: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
