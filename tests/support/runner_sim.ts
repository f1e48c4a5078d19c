/**
 * The runner simulator every black-box test drives: it lays out a temporary `<root>/_work` exactly
 * like the GitHub Actions runner (protocol §4–5), writes step scripts and empty file-command files,
 * builds the arguments the runner sends, runs `bash -e scripts/hook.sh` with the invocation on stdin,
 * and reads the response file and the file commands back the way the runner does. `state` is kept
 * across calls like the runner keeps it. `await using` removes everything it made.
 *
 * @example
 * ```ts
 * await using sim = await RunnerSim.create({ env: { KUBECONFIG: kubeconfig, ACTIONS_RUNNER_POD_NAME: "r" } });
 * const prepared = await sim.prepareJob({ container: jobContainer("node:20"), services: [] });
 * const step = await sim.scriptStep('echo "x=1" >> "$GITHUB_OUTPUT"');
 * assert.equal(step.fileCommands?.output.x, "1");
 * await sim.cleanupJob();
 * ```
 * @module
 */
import type { Container } from "../../src/runner/input.ts";
import { createFileCommands, type FileCommands, readFileCommands } from "./file_commands.ts";
import { HookProcess } from "./hook_process.ts";
import { checkResponse } from "./response_check.ts";

export type { FileCommands };
export { jobContainer, runnerArgs, serviceContainer } from "./containers.ts";

/** The runner's fixed container paths. */
const W = "/__w";
/** Host variables passed through to the hook (the rest of the test's environment is not, so a
 * developer's KUBECONFIG can never leak into a test). */
const PASSTHROUGH = [
  "PATH",
  "HOME",
  "USER",
  "LANG",
  "TMPDIR",
  "DENO_DIR",
  "XDG_CACHE_HOME",
  "NO_COLOR",
];

/** Options of {@link RunnerSim.create}. */
export interface SimOptions {
  /** The hook's environment: KUBECONFIG, ACTIONS_RUNNER_POD_NAME, KUBEHOOK_*, ... */
  env?: Record<string, string>;
  /** Repository name: the workspace is `_work/<repo>/<repo>`. */
  repo?: string;
  /** The hook script; default this repository's scripts/hook.sh. */
  hook?: string;
  /** Copy the hook's output to stderr as it arrives. */
  echo?: boolean;
  /** An existing directory to use as `<work>` (volume mode: the work PVC's directory, as in a
   * runner pod whose `_work` is that volume). Dispose leaves it to its owner. */
  work?: string;
}

/** The outcome of one hook call. */
export interface HookResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The response file's JSON value, or null when the hook left it empty. */
  response: unknown;
  /** Set for steps. */
  fileCommands?: FileCommands;
  /** What the real runner would have failed on (unparsable response, missing isAlpine, ...). */
  runnerError?: string;
}

/** A hook call in progress: its process (output so far, signals) and its result. */
export interface HookRun {
  hook: HookProcess;
  result: Promise<HookResult>;
}

/** How a script step runs. */
export interface StepOptions {
  /** `sh` (the runner's default for container jobs) or `bash`. */
  shell?: "sh" | "bash";
  env?: Record<string, string>;
  /** Newest first, as the runner sends it. */
  prependPath?: string[];
  workingDirectory?: string;
}

/** A runner's work directory and hook calls against it. */
export class RunnerSim implements AsyncDisposable {
  /** The state the last response returned, as the runner keeps it. */
  state: Record<string, unknown> | null = null;
  readonly root: string;
  readonly work: string;
  readonly repo: string;
  /** Host GITHUB_WORKSPACE. */
  readonly workspace: string;
  readonly temp: string;
  #options: SimOptions;
  #running = new Set<HookProcess>();

  private constructor(root: string, options: SimOptions) {
    this.root = root;
    this.#options = options;
    this.repo = options.repo ?? "repo";
    this.work = options.work ?? `${root}/_work`;
    this.workspace = `${this.work}/${this.repo}/${this.repo}`;
    this.temp = `${this.work}/_temp`;
  }

  /** Makes the `<root>/_work` layout. */
  static async create(options: SimOptions = {}): Promise<RunnerSim> {
    const sim = new RunnerSim(await Deno.makeTempDir({ prefix: "kubehook-runner-" }), options);
    for (
      const dir of [
        sim.workspace,
        sim.#githubHome,
        sim.#fileCommands,
        sim.#responses,
        `${sim.work}/_actions`,
        `${sim.work}/_tool`,
      ]
    ) {
      await Deno.mkdir(dir, { recursive: true });
    }
    await Deno.mkdir(`${sim.temp}/_github_workflow`, { recursive: true });
    await Deno.writeTextFile(
      `${sim.temp}/_github_workflow/event.json`,
      JSON.stringify({ ref: "refs/heads/main" }),
    );
    return sim;
  }

  /** The job container's path of the workspace. */
  get containerWorkspace(): string {
    return `${W}/${this.repo}/${this.repo}`;
  }
  get #githubHome() {
    return `${this.temp}/_github_home`;
  }
  get #fileCommands() {
    return `${this.temp}/_runner_file_commands`;
  }
  get #responses() {
    return `${this.temp}/_runner_hook_responses`;
  }

  prepareJob(args: { container: Container | null; services: Container[] }): Promise<HookResult> {
    return this.start("prepare_job", args).result;
  }

  cleanupJob(): Promise<HookResult> {
    return this.start("cleanup_job", {}).result;
  }

  /** A `run:` step: the script goes to `_temp/<guid>.sh`, run by `sh -e` or bash as the runner does. */
  scriptStep(script: string, options: StepOptions = {}): Promise<HookResult> {
    return this.startScriptStep(script, options).then((run) => run.result);
  }

  /** Starts a `run:` step and returns at once, for tests that watch output or cancel. */
  async startScriptStep(script: string, options: StepOptions = {}): Promise<HookRun> {
    const guid = crypto.randomUUID();
    await Deno.writeTextFile(`${this.temp}/${guid}.sh`, script);
    const file = `${W}/_temp/${guid}.sh`;
    const args = options.shell === "bash"
      ? ["--noprofile", "--norc", "-e", "-o", "pipefail", file]
      : ["-e", file];
    return this.#step(guid, options.shell ?? "sh", args, options);
  }

  /** A JavaScript action: `index.js` goes to `_actions/<action>/dist/`, run by the externals' node. */
  async nodeActionStep(
    source: string,
    action = "o/r/v1",
    options: StepOptions = {},
  ): Promise<HookResult> {
    const dir = `${this.work}/_actions/${action}/dist`;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/index.js`, source);
    const run = await this.#step(crypto.randomUUID(), "/__e/node20/bin/node", [
      `"${W}/_actions/${action}/dist/index.js"`,
    ], options);
    return run.result;
  }

  async #step(
    guid: string,
    entryPoint: string,
    entryPointArgs: string[],
    options: StepOptions,
  ): Promise<HookRun> {
    const env = {
      GITHUB_WORKSPACE: this.containerWorkspace,
      GITHUB_EVENT_PATH: "/github/workflow/event.json",
      RUNNER_TEMP: `${W}/_temp`,
      RUNNER_WORKSPACE: `${W}/${this.repo}`,
      RUNNER_TOOL_CACHE: `${W}/_tool`,
      HOME: "/github/home",
      ...await createFileCommands(this.#fileCommands, `${W}/_temp/_runner_file_commands`, guid),
    };
    const run = this.start("run_script_step", {
      entryPoint,
      entryPointArgs,
      environmentVariables: { ...env, ...options.env },
      prependPath: options.prependPath ?? [],
      workingDirectory: options.workingDirectory ?? this.containerWorkspace,
    });
    return { hook: run.hook, result: run.result.then((r) => this.#withFileCommands(r, guid)) };
  }

  /** A container action (`uses: docker://...` or a Dockerfile action): `/github/*` paths, as the
   * runner sends them. */
  containerStep(container: Container): Promise<HookResult> {
    return this.startContainerStep(container).then((run) => run.result);
  }

  /** Starts a container action and returns at once, for tests that watch output or cancel. */
  async startContainerStep(container: Container): Promise<HookRun> {
    const guid = crypto.randomUUID();
    const env = {
      GITHUB_WORKSPACE: "/github/workspace",
      GITHUB_EVENT_PATH: "/github/workflow/event.json",
      RUNNER_TEMP: "/github/runner_temp",
      HOME: "/github/home",
      ...await createFileCommands(this.#fileCommands, "/github/file_commands", guid),
    };
    const args = {
      ...container,
      workingDirectory: "/github/workspace",
      environmentVariables: { ...env, ...container.environmentVariables },
    };
    const run = this.start("run_container_step", args);
    return { hook: run.hook, result: run.result.then((r) => this.#withFileCommands(r, guid)) };
  }

  async #withFileCommands(result: HookResult, guid: string): Promise<HookResult> {
    try {
      result.fileCommands = await readFileCommands(this.#fileCommands, guid);
    } catch (error) {
      result.runnerError ??= `file commands: ${(error as Error).message}`;
    }
    return result;
  }

  /** Starts any hook call: creates the empty response file, runs the hook, and on exit reads and
   * deletes the response and updates `state` like the runner. */
  start(command: string, args: unknown): HookRun {
    const responseFile = `${this.#responses}/${crypto.randomUUID()}.json`;
    Deno.writeTextFileSync(responseFile, "");
    const hook = new HookProcess({
      hook: this.#options.hook ?? new URL("../../scripts/hook.sh", import.meta.url).pathname,
      cwd: this.workspace,
      env: this.#env(),
      stdin: JSON.stringify({ command, responseFile, args, state: this.state }),
      echo: this.#options.echo,
    });
    this.#running.add(hook);
    const result = hook.finished.then(async ({ code, stdout, stderr }) => {
      this.#running.delete(hook);
      const result: HookResult = { code, stdout, stderr, response: null };
      const text = await Deno.readTextFile(responseFile).catch(() => "");
      await Deno.remove(responseFile).catch(() => {});
      try {
        result.response = text.trim() === "" ? null : JSON.parse(text);
      } catch (error) {
        result.runnerError = `response file is not one JSON value: ${(error as Error).message}: ${
          text.slice(0, 200)
        }`;
        return result;
      }
      result.runnerError = checkResponse(command, args, result.response, code);
      const state = (result.response as { state?: unknown } | null)?.state;
      if (state !== null && typeof state === "object" && !Array.isArray(state)) {
        this.state = state as Record<string, unknown>;
      }
      return result;
    });
    return { hook, result };
  }

  #env(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const name of PASSTHROUGH) {
      const value = Deno.env.get(name);
      if (value !== undefined) env[name] = value;
    }
    return {
      ...env,
      CI: "true",
      GITHUB_ACTIONS: "true",
      RUNNER_OS: "Linux",
      GITHUB_REPOSITORY: `octo/${this.repo}`,
      RUNNER_WORKSPACE: `${this.work}/${this.repo}`,
      GITHUB_WORKSPACE: this.workspace,
      RUNNER_TEMP: this.temp,
      RUNNER_TOOL_CACHE: `${this.work}/_tool`,
      GITHUB_EVENT_PATH: `${this.temp}/_github_workflow/event.json`,
      ...this.#options.env,
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const hook of this.#running) hook.signal("SIGKILL");
    await Promise.allSettled([...this.#running].map((h) => h.finished));
    await Deno.remove(this.root, { recursive: true });
  }
}
