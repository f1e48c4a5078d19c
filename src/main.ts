/**
 * kubehook's entry point: with arguments it is a small CLI, with none it reads one hook invocation
 * from stdin (the runner's contract) and dispatches to the hook module named by `command`. Each hook
 * is imported on demand so a step pays only for its own code.
 *
 * `node:` modules are imported where they are used, never at a module's top: the bundle hoists
 * every static import to its start, and one `node:` import there starts Deno's Node compatibility
 * layer in every hook (about 20 ms; tests/distribution/release_test.ts checks the bundle).
 *
 * @module
 */
import meta from "../deno.json" with { type: "json" };
import { warmUpTls } from "./kube/warm_up.ts";

/** Exit code for a hook that failed before or outside a step (the runner marks the step failed). */
const HOOK_FAILED = 1;

/** The runner kills a hook 2.5 s after its second signal (SIGTERM, 7.5 s after SIGINT): a hook
 * not ended this long after it stops itself, saying so, rather than vanish without a word. */
const LAST_SIGNAL_GRACE_MS = 2_000;

const HELP = `kubehook ${meta.version}: GitHub Actions runner container hooks for Kubernetes.

Usage:
  kubehook                    run one hook: the runner pipes the hook JSON to stdin
  kubehook render --input FILE [--template FILE]
                              print the pod spec(s) a hook would create, as YAML, without a cluster
  kubehook doctor             check the cluster, namespace, permissions and template kubehook will use
  kubehook --version          print version, Deno version and target
  kubehook --help             print this help

Point the runner at it with ACTIONS_RUNNER_CONTAINER_HOOKS=<dir>/hook.sh (see the README).
`;

async function main(args: string[]): Promise<number> {
  const [first, ...rest] = args;
  switch (first) {
    case undefined:
      return await runHook();
    case "--version":
    case "-V":
      console.log(
        `kubehook ${meta.version} (commit ${await commit()}, deno ${Deno.version.deno}, ` +
          `${Deno.build.target})`,
      );
      return 0;
    case "--help":
    case "-h":
    case "help":
      console.log(
        `${HELP}\nSettings (environment variables, read by every hook, render and doctor):\n` +
          (await import("./runner/settings.ts")).settingsHelp(),
      );
      return 0;
    case "render":
      return await (await import("./cli/render.ts")).render(rest);
    case "doctor":
      return await (await import("./cli/doctor.ts")).doctor(rest);
    default:
      console.error(
        `kubehook: unknown argument "${first}". Run "kubehook --help" for the commands; with no ` +
          `arguments kubehook reads a hook invocation from stdin.`,
      );
      return 2;
  }
}

/** The release build embeds KUBEHOOK_COMMIT (scripts/compile.ts); from a git checkout it is the
 * commit checked out. */
async function commit(): Promise<string> {
  const embedded = Deno.env.get("KUBEHOOK_COMMIT");
  if (embedded) return embedded;
  const url = new URL("../", import.meta.url);
  const { sourceCommit } = await import("./cli/source_commit.ts");
  const found = url.protocol === "file:" ? await sourceCommit(url.pathname) : undefined;
  return found ? `${found} from source` : "none: run from source";
}

async function runHook(): Promise<number> {
  warmUpTls();
  const { parseInvocation } = await import("./runner/input.ts");
  const text = await new Response(Deno.stdin.readable).text();
  const invocation = parseInvocation(text);
  const env = Deno.env.toObject();
  if (invocation.command === "run_script_step") {
    // The runner's changes are listed (another process) while the step's modules load.
    (await import("./hooks/early_sync.ts")).listChangesEarly(invocation.state, env);
  }
  const cancel = new AbortController();
  let signals = 0;
  const onSignal = () => {
    // The first signal cancels: every wait of the hook ends, and it stops what it started. The
    // second one finds it still at that (a stop that itself hangs): it ends on its own deadline.
    if (++signals === 1) return cancel.abort(new Error("the job was cancelled"));
    if (signals === 2) setTimeout(giveUp, LAST_SIGNAL_GRACE_MS);
  };
  const giveUp = async () => {
    const { error: annotate } = await import("./runner/workflow_commands.ts");
    annotate(
      `kubehook: the job was cancelled and ${invocation.command} had not ended ` +
        `${LAST_SIGNAL_GRACE_MS / 1000} s after the runner's second signal: it stops now, before ` +
        "the runner kills it. cleanup_job, which the runner runs after every job, deletes what " +
        "the job made; the job pod and its secrets are also owned by the runner's pod, and go " +
        "with it. With ACTIONS_STEP_DEBUG=true the log shows where the hook waited.",
    );
    Deno.exit(HOOK_FAILED);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const context = { env, signal: cancel.signal };
    switch (invocation.command) {
      case "prepare_job":
        return await (await import("./hooks/prepare_job.ts")).prepareJob(invocation, context);
      case "run_script_step":
        return await (await import("./hooks/run_script_step.ts")).runScriptStep(
          invocation,
          context,
        );
      case "run_container_step":
        return await (await import("./hooks/run_container_step.ts")).runContainerStep(
          invocation,
          context,
        );
      case "cleanup_job":
        return await (await import("./hooks/cleanup_job.ts")).cleanupJob(invocation, context);
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (error) {
    // The message is the whole story (what, where, the fix); a stack only with debug logging on.
    const { debugLogging, error: annotate } = await import("./runner/workflow_commands.ts");
    const message = error instanceof Error
      ? (debugLogging() ? error.stack ?? error.message : error.message)
      : String(error);
    annotate(`kubehook: ${message}`);
    code = HOOK_FAILED;
  }
  Deno.exit(code);
}
