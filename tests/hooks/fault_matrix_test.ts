/**
 * Issue 14's fault matrix: for each phase of a job and each fault the clusters can inject, the
 * outcome a user should get. One row per (phase, fault), each a job of its own on one cluster
 * (`KUBEHOOK_TEST_CLUSTER=real` for the real tier), named `phase × fault: outcome`.
 *
 * The job: the runner lays out `input.txt`, prepare_job, a counted script step (it appends to a
 * counter file, prints numbered lines slowly enough for a fault to land mid-step, appends to the
 * file the runner sent with it, writes a file of its own, exits 3), for the container step's rows
 * a counted container step (busybox, as an ephemeral container, exits 5), and cleanup_job (for
 * the cleanup rows after a file was written in the pod since the last step). Exec faults are aimed
 * at one phase by what kubehook's pod scripts say (tests/cluster/api/faults.ts): `tar_exit` (the
 * receipt of an extraction: the copy in, a container step's upload), `kubehook-started` (a
 * step's start, src/hooks/step_scripts.ts), `kubehook-missing` (its resume), `pack_exit` (the
 * receipt of a pack: every copy back); API errors by method and path (and a skip count).
 *
 * What every row asserts where it applies: the hook's exit code (the step's own, or non-zero with
 * a message naming the cause when the job cannot go on); the step's output complete and once; the
 * counter proving no step ran twice; the files that should arrive did (copy in, copy back, the
 * runner's file the step appended to — a start retried after a drop must not extract it again over
 * the step's change); the fault was used up (it hit the phase); and, through `HookCluster.job`,
 * that no pod or secret is left after cleanup_job.
 *
 * The hook killed with SIGKILL: a step runs detached in the pod (src/hooks/detached_step.ts), so
 * kubehook promises that a step whose hook is killed is not lost and not run again: it runs on to
 * its end in the pod, once, and what it changed reaches the runner with the next hook's copy back
 * (the window from the last sync, src/hooks/workspace.ts); the next step runs normally. A hook
 * killed in prepare_job or cleanup_job leaves objects that the next cleanup_job (or the runner's
 * next prepare_job) removes by label, saying so.
 *
 * Not covered yet:
 * - a stall (`exec-stall`) of a copy — the copy in, a step's copy back, cleanup's copy back: a
 *   copy's stall is noticed by its watchdog after a fixed 60 s (src/transfer/copy.ts), not the
 *   heartbeat deadline, so each such row would take over a minute (the SIGKILL rows below kill a
 *   hook stalled there instead);
 * - after a step's hook was killed, that step's change to a file the runner sent with it: the
 *   killed hook never told the runner the upload was delivered, so the next step sends the
 *   runner's copy again, over the step's change (its other files do come back; the rows below
 *   check those);
 * - an eviction during the copy in, and SIGKILL during pod creation: no fault holds those moments
 *   long enough to aim at.
 *
 * `KUBEHOOK_FAULT_MATRIX_ROWS=REGEX` runs only the rows whose names match.
 *
 * @module
 */
import assert from "node:assert/strict";
import { containerOf } from "../../src/runner/input.ts";
import { jobPodName } from "../../src/pod/names.ts";
import type { Fault } from "../cluster/api/faults.ts";
import {
  type HookResult,
  type HookRun,
  jobContainer,
  runnerArgs,
  type RunnerSim,
} from "../support/runner_sim.ts";
import { assertHookFailed, assertHookOk, HookCluster, logOf } from "./hook_cluster.ts";

/** Short heartbeats, so a stalled step's connection is noticed in about a second. */
const QUICK_HEARTBEAT = {
  ACTIONS_RUNNER_HEARTBEAT_PERIOD_MS: "200",
  ACTIONS_RUNNER_HEARTBEAT_DEADLINE_MS: "1500",
};
const JOB_IMAGE = "debian:12";
const LINES = 60;
const STEP_CODE = 3;
const CONTAINER_STEP_CODE = 5;

type Phase =
  | "pod creation"
  | "waiting"
  | "copy in"
  | "step running"
  | "step copy back"
  | "container step"
  | "cleanup copy back"
  | "deletion";

type Tier = "embedded" | "real";

/** One row: what is injected where, and what the user gets. */
interface Row {
  phase: Phase;
  fault: string;
  outcome: string;
  /** The tier the row cannot exist on, and why: it is skipped there, saying so in its name. */
  notOn?: { tier: Tier; why: string };
  /** Hook variables of this row's runner. */
  env?: Record<string, string>;
  run: (job: Job) => Promise<void>;
}

/** A script step that counts its runs, shows the runner's input, appends to the file the runner
 * sent with it, prints numbered lines slowly, writes a file of its own and exits with `code`;
 * with `hold`, it sleeps for ever before writing its file. */
function stepScript(name: string, code = STEP_CODE, hold = false): string {
  return `echo run >> counter-${name}
cat input.txt
echo "step ${name}" >> news-${name}.txt
i=0
while [ $i -lt ${LINES} ]; do
  echo "${name} line $i"
  if [ $((i % 20)) = 0 ]; then sleep 0.2; fi
  i=$((i + 1))
done
${hold ? "sleep 987\n" : ""}echo "made by ${name}" > made-${name}.txt
exit ${code}
`;
}

/** The container step's shell script: the same, as one line (the runner splits it on spaces). */
function containerScript(hold = false): string {
  return `echo run >> counter-C; i=0; while [ $i -lt ${LINES} ]; do ` +
    `echo "C line $i"; [ $((i % 20)) = 0 ] && sleep 0.2; i=$((i + 1)); done; ` +
    `${hold ? "sleep 987; " : ""}echo "made by C" > made-C.txt; exit ${CONTAINER_STEP_CODE}`;
}

/** The hook's `::error::` lines (what the runner shows as the step's failure). */
function errorOf(result: HookResult): string {
  return logOf(result).split("\n").filter((l) => l.startsWith("::error::")).join("\n");
}

function numbered(name: string): string[] {
  return Array.from({ length: LINES }, (_, i) => `${name} line ${i}`);
}

/** One row's job: its runner, the standard hooks and the checks. */
class Job {
  constructor(
    readonly hc: HookCluster,
    readonly sim: RunnerSim,
    readonly runnerPod: string,
    readonly kubeconfig: string,
  ) {}

  get tier(): Tier {
    return this.hc.cluster.tier;
  }

  /** The job pod: as prepare_job named it, or the name it will get. */
  get jobPod(): string {
    return String(this.sim.state?.jobPod ?? jobPodName(this.runnerPod));
  }

  faults(faults: Partial<Fault>[]): Promise<void> {
    return this.hc.cluster.addFaults(faults);
  }

  /** Asserts every injected fault was used up: it met the phase it was aimed at. */
  async faultsSpent(): Promise<void> {
    assert.deepEqual(await this.hc.faultsLeft(), [], "the fault never met its phase");
  }

  /** Polls until every injected fault is used up (a hook is now held by a stall, say). */
  async untilFaultsSpent(): Promise<void> {
    for (let i = 0; (await this.hc.faultsLeft()).length > 0; i++) {
      assert.ok(i < 300, "the fault never met its phase");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  startPrepare(): HookRun {
    return this.sim.start("prepare_job", { container: jobContainer(JOB_IMAGE), services: [] });
  }

  async prepare(): Promise<HookResult> {
    await Deno.writeTextFile(`${this.sim.workspace}/input.txt`, "input from the runner\n");
    return await this.startPrepare().result;
  }

  /** Starts the counted step `name`, first laying out the file the runner sends with it. */
  async startStep(name: string, code = STEP_CODE, hold = false): Promise<HookRun> {
    await Deno.writeTextFile(this.#news(name), `from the runner for ${name}\n`);
    return await this.sim.startScriptStep(stepScript(name, code, hold));
  }

  async step(name: string, code = STEP_CODE): Promise<HookResult> {
    return await (await this.startStep(name, code)).result;
  }

  startContainerStep(hold = false): Promise<HookRun> {
    return this.sim.startContainerStep(containerOf("busybox:1.36", {
      entryPoint: "sh",
      entryPointArgs: runnerArgs(["-c", containerScript(hold)]),
    }));
  }

  async containerStep(): Promise<HookResult> {
    return await (await this.startContainerStep()).result;
  }

  cleanup(): Promise<HookResult> {
    return this.sim.cleanupJob();
  }

  /** prepare_job and step A, both as they should go. */
  async untilStepA(): Promise<void> {
    assertHookOk(await this.prepare(), "prepare_job");
    await this.assertStep(await this.step("A"), "A");
  }

  /** The runner's next job (this runner pod again): its prepare_job removes what `jobPod` left,
   * saying so, and the job runs. */
  async nextJobCleansUp(jobPod: string): Promise<void> {
    const next = await this.prepare();
    assertHookOk(next, "the next prepare_job");
    assert.match(next.stdout, new RegExp(`left behind: ${jobPod}`));
    await this.assertStep(await this.step("B"), "B");
    assertHookOk(await this.cleanup(), "cleanup_job");
  }

  /** Writes `late.txt` in the job container after the last step: only cleanup brings it back. */
  async writeLate(): Promise<void> {
    await this.hc.execInPod(
      this.jobPod,
      `echo "written after the last step" > ${this.sim.containerWorkspace}/late.txt`,
    );
  }

  /** Kills `run`'s hook with SIGKILL and checks that it died of it. */
  async kill(run: HookRun): Promise<void> {
    run.hook.signal("SIGKILL");
    const exit = await run.hook.finished;
    assert.equal(exit.signal, "SIGKILL", `the hook ended before it was killed: ${exit.stderr}`);
  }

  /** Points this row's kubeconfig at `server` until `restore` is called. */
  async serverAt(server: string): Promise<{ restore: () => Promise<void> }> {
    const original = await Deno.readTextFile(this.kubeconfig);
    assert.ok(original.includes(this.hc.cluster.url), "the kubeconfig does not name the server");
    await Deno.writeTextFile(this.kubeconfig, original.replaceAll(this.hc.cluster.url, server));
    return { restore: () => Deno.writeTextFile(this.kubeconfig, original) };
  }

  /** The step ran once, with its exit code and all of its output once, and its files (and its
   * change to the runner's file) are on the runner. */
  async assertStep(result: HookResult, name: string, code = STEP_CODE): Promise<void> {
    assert.equal(result.code, code, `step ${name} exited ${result.code}:\n${logOf(result)}`);
    assert.equal(result.runnerError, undefined, result.runnerError);
    this.assertOutput(result, name);
    assert.match(result.stdout, /^input from the runner$/m, "the copy in did not arrive");
    await this.assertRanOnce(name);
    await this.assertArrived(name);
  }

  assertOutput(result: HookResult, name: string): void {
    assert.deepEqual(
      result.stdout.split("\n").filter((l) => l.startsWith(`${name} line `)),
      numbered(name),
      `step ${name}'s output was lost or repeated:\n${logOf(result)}`,
    );
  }

  async assertRanOnce(name: string): Promise<void> {
    const counter = await Deno.readTextFile(`${this.sim.workspace}/counter-${name}`).catch(() =>
      ""
    );
    assert.equal(counter, "run\n", `step ${name} ran ${counter.length / 4} times`);
  }

  async assertNeverRan(name: string): Promise<void> {
    assert.equal(await this.#exists(`counter-${name}`), false, `step ${name} ran`);
  }

  /** What step `name` wrote is on the runner, and (unless `runnerFile` is false) the file the
   * runner sent it holds its change. */
  async assertArrived(name: string, { runnerFile = true } = {}): Promise<void> {
    assert.equal(await this.read(`made-${name}.txt`), `made by ${name}\n`, `made-${name}.txt`);
    if (name !== "C" && runnerFile) {
      assert.equal(
        await Deno.readTextFile(this.#news(name)),
        `from the runner for ${name}\nstep ${name}\n`,
        `the step's change to the runner's file was lost (extracted over again?)`,
      );
    }
  }

  async assertContainerStep(result: HookResult): Promise<void> {
    assert.equal(result.code, CONTAINER_STEP_CODE, logOf(result));
    assert.equal(result.runnerError, undefined, result.runnerError);
    this.assertOutput(result, "C");
    await this.assertRanOnce("C");
    await this.assertArrived("C");
  }

  async assertLateArrived(): Promise<void> {
    assert.equal(await this.read("late.txt"), "written after the last step\n", "late.txt");
  }

  read(file: string): Promise<string> {
    return Deno.readTextFile(`${this.sim.workspace}/${file}`).catch(() => "(missing)");
  }

  #exists(file: string): Promise<boolean> {
    return Deno.stat(`${this.sim.workspace}/${file}`).then(() => true, () => false);
  }

  #news(name: string): string {
    return `${this.sim.workspace}/news-${name}.txt`;
  }
}

const PREPARE_PHASES: Phase[] = ["pod creation", "waiting", "copy in"];
const CLEANUP_PHASES: Phase[] = ["cleanup copy back", "deletion"];

/** Faults to inject: as they are, or made from the row's job (names of its pods). */
type Faults = Partial<Fault>[] | ((job: Job) => Partial<Fault>[]);

function faultsOf(faults: Faults, job: Job): Partial<Fault>[] {
  return typeof faults === "function" ? faults(job) : faults;
}

/** The whole job with `faults` injected just before the hook of `phase`; every hook succeeds and
 * every check holds. */
function goesOn(phase: Phase, faults: Faults) {
  return async (job: Job) => {
    const inject = async (at: Phase[]) => {
      if (at.includes(phase)) await job.faults(faultsOf(faults, job));
    };
    await inject(PREPARE_PHASES);
    assertHookOk(await job.prepare(), "prepare_job");
    await inject(["step running", "step copy back"]);
    await job.assertStep(await job.step("A"), "A");
    if (phase === "container step") {
      await inject(["container step"]);
      await job.assertContainerStep(await job.containerStep());
    }
    if (CLEANUP_PHASES.includes(phase)) await job.writeLate();
    await inject(CLEANUP_PHASES);
    assertHookOk(await job.cleanup(), "cleanup_job");
    await job.faultsSpent();
    if (CLEANUP_PHASES.includes(phase)) await job.assertLateArrived();
  };
}

/** Rows of one phase whose job goes on ({@link goesOn}): fault, outcome, what is injected. */
function goingOn(phase: Phase, rows: [string, string, Faults][]): Row[] {
  return rows.map(([fault, outcome, faults]) => ({
    phase,
    fault,
    outcome,
    run: goesOn(phase, faults),
  }));
}

/** prepare_job meets `faults` and fails with `message`; cleanup_job then leaves nothing. */
function prepareFails(faults: Faults, message: RegExp) {
  return async (job: Job) => {
    await job.faults(faultsOf(faults, job));
    const prepared = await job.prepare();
    assertHookFailed(prepared, "prepare_job");
    assert.match(errorOf(prepared), message);
    await job.faultsSpent();
    assertHookOk(await job.cleanup(), "cleanup_job");
  };
}

/** A local TCP port nothing listens on (yet). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Forwards `port` on 127.0.0.1 to the server of `url`, from `afterMs` on; before that the port
 * refuses connections. */
function refusedUntil(url: string, port: number, afterMs: number): AsyncDisposable {
  const target = new URL(url);
  const conns = new Set<Deno.Conn>();
  let listener: Deno.Listener | undefined;
  let serving: Promise<void> | undefined;
  const timer = setTimeout(() => {
    listener = Deno.listen({ hostname: "127.0.0.1", port });
    serving = (async () => {
      for await (const client of listener!) {
        conns.add(client);
        (async () => {
          const upstream = await Deno.connect({
            hostname: target.hostname,
            port: Number(target.port),
          });
          conns.add(upstream);
          await Promise.all([
            client.readable.pipeTo(upstream.writable).catch(() => {}),
            upstream.readable.pipeTo(client.writable).catch(() => {}),
          ]);
        })().catch(() => {});
      }
    })().catch(() => {});
  }, afterMs);
  return {
    async [Symbol.asyncDispose]() {
      clearTimeout(timer);
      listener?.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      }
      await serving;
    },
  };
}

/** Waits until `file` exists in the job container (a detached step finishing on its own). */
async function untilInPod(job: Job, file: string): Promise<void> {
  const path = `${job.sim.containerWorkspace}/${file}`;
  for (let i = 0;; i++) {
    const out = await job.hc.execInPod(job.jobPod, `[ -e ${path} ] && echo yes || echo no`);
    if (out.trim() === "yes") return;
    assert.ok(i < 100, `${file} never appeared in the job pod`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The words of kubehook's pod scripts that aim an exec fault at one phase. */
const AIM = {
  /** The receipt of an extraction (src/transfer/pod_scripts.ts): the copy in, a container
   * step's upload (a step's start extracts too, but only `start` tells it apart). */
  extract: "tar_exit",
  /** A step's start (src/hooks/step_scripts.ts). */
  start: "kubehook-started",
  /** A step's resume after a broken connection. */
  resume: "kubehook-missing",
  /** The receipt of a pack: every copy back. */
  pack: "pack_exit",
};

function drop(afterBytes: number, command: string, count = 1): Partial<Fault> {
  return { kind: "exec-drop", afterBytes, command, count };
}

function stall(afterBytes: number, command: string): Partial<Fault> {
  return { kind: "exec-stall", afterBytes, command, count: 1 };
}

/** `count` API errors with `status` on `method` requests whose path matches `path`, after `skip`
 * such requests passed. */
function apiError(status: number, method: string, path: string, count = 1, skip = 0) {
  return { kind: "api-error", status, method, path, count, ...(skip ? { skip } : {}) } as const;
}

const EXEC = "/exec$";

/** One API error of each status, in this order, on the next exec upgrades. */
function execBurst(statuses: number[]): Partial<Fault>[] {
  return statuses.map((status) => apiError(status, "GET", EXEC));
}

/** Holds a new job pod pending: a start delay on the embedded cluster, a cordoned node on the
 * real one (which has no start delay). */
function pending(job: Job): Partial<Fault> {
  return job.tier === "real"
    ? { kind: "unschedulable", count: 1 }
    : { kind: "pod-start-delay", ms: 60_000, count: 1 };
}

/** Kills prepare_job's hook; the runner's cleanup_job then removes the pod it made. */
async function killPrepareThenCleanup(job: Job, run: HookRun): Promise<void> {
  await job.kill(run);
  const cleaned = await job.cleanup();
  assertHookOk(cleaned, "cleanup_job");
  assert.match(cleaned.stdout, new RegExp(`Deleted pod ${job.jobPod}`));
}

/** Points one hook at a closed port: it fails, its `::error::` naming the server it could not
 * reach. */
async function refused(job: Job, hook: () => Promise<HookResult>, what: string): Promise<void> {
  const closed = `https://127.0.0.1:${freePort()}`;
  const server = await job.serverAt(closed);
  const result = await hook().finally(() => server.restore());
  assertHookFailed(result, what);
  assert.match(errorOf(result), new RegExp(`API server at ${closed} .*cannot be reached`));
  assert.match(errorOf(result), /refused/i);
}

const NOT_REAL = "a real kubelet cannot be told to wait (pod-start-delay)";

const ROWS: Row[] = [
  // ---- pod creation: prepare_job's calls before and for the pod
  ...goingOn("pod creation", [
    ["API 429 burst on creating the pod", "retried, the job goes on", [
      apiError(429, "POST", "/pods$", 2),
    ]],
    ["API 503 on creating the pod", "repeated, the job goes on", [
      apiError(503, "POST", "/pods$"),
    ]],
    [
      "API 503 after the pod was created (the answer lost, not the work)",
      "repeated; the pod that exists is the job's own: the job goes on",
      [{ ...apiError(503, "POST", "/pods$"), applied: true }],
    ],
    [
      "API 500 and 503 burst on listing leftovers and reading the runner pod",
      "retried, the job goes on",
      (job) => [apiError(503, "GET", "/pods$", 2), apiError(500, "GET", `/pods/${job.runnerPod}$`)],
    ],
  ]),
  {
    phase: "pod creation",
    fault: "connection refused for the whole hook",
    outcome: "prepare_job fails naming the server and the refusal; cleanup_job leaves nothing",
    run: async (job) => {
      await refused(job, () => job.prepare(), "prepare_job");
      assertHookOk(await job.cleanup(), "cleanup_job");
    },
  },
  {
    phase: "pod creation",
    fault: "connection refused for half a second",
    outcome: "retried, the job goes on",
    run: async (job) => {
      const port = freePort();
      await using _ = refusedUntil(job.hc.cluster.url, port, 500);
      const server = await job.serverAt(`https://127.0.0.1:${port}`);
      assertHookOk(await job.prepare().finally(() => server.restore()), "prepare_job");
      await job.assertStep(await job.step("A"), "A");
      assertHookOk(await job.cleanup(), "cleanup_job");
    },
  },

  // ---- waiting: the pod is created and prepare_job waits for it to run
  {
    phase: "waiting",
    fault: "pod start delay",
    outcome: "waited for, the job goes on",
    notOn: { tier: "real", why: NOT_REAL },
    run: goesOn("waiting", [{ kind: "pod-start-delay", ms: 1000, count: 1 }]),
  },
  {
    phase: "waiting",
    fault: "pod start delay past the prepare timeout",
    outcome: "prepare_job fails at the timeout, saying so and naming the setting",
    notOn: { tier: "real", why: NOT_REAL },
    env: { ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS: "2" },
    run: prepareFails(
      [{ kind: "pod-start-delay", ms: 8000, count: 1 }],
      /did not start within 2 s[\s\S]*ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS/,
    ),
  },
  {
    phase: "waiting",
    fault: "unschedulable",
    outcome: "prepare_job fails at the timeout with the scheduler's reason",
    env: { ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS: "2" },
    run: prepareFails(
      [{ kind: "unschedulable", count: 1 }],
      /did not start within 2 s: not scheduled yet: .*unschedulable/,
    ),
  },
  ...goingOn("waiting", [
    ["API 500 and 503 burst on reading the pod", "retried, the job goes on", (job) => [
      apiError(503, "GET", `/pods/${job.jobPod}$`, 2),
      apiError(500, "GET", `/pods/${job.jobPod}$`),
    ]],
  ]),
  {
    phase: "waiting",
    fault: "eviction",
    outcome: "prepare_job fails naming the eviction; cleanup_job leaves nothing",
    run: async (job) => {
      await job.faults([pending(job)]);
      await Deno.writeTextFile(`${job.sim.workspace}/input.txt`, "input from the runner\n");
      const run = job.startPrepare();
      await run.hook.waitForOutput("waiting for it to run");
      await job.faults([{ kind: "evict", pod: job.jobPod }]);
      const prepared = await run.result;
      assertHookFailed(prepared, "prepare_job");
      assert.match(
        errorOf(prepared),
        /pod "\S+" in namespace "default" (was evicted|cannot start: Evicted)/,
      );
      assertHookOk(await job.cleanup(), "cleanup_job");
    },
  },
  {
    phase: "waiting",
    fault: "SIGKILL, then cleanup_job",
    outcome: "cleanup_job removes the pod the killed hook made",
    run: async (job) => {
      await job.faults([pending(job)]);
      const run = job.startPrepare();
      await run.hook.waitForOutput("waiting for it to run");
      await killPrepareThenCleanup(job, run);
    },
  },

  // ---- copy in: prepare_job's extraction of <work> in the job container
  ...goingOn("copy in", [
    ["exec drop at its start", "copied again, the job goes on", [drop(0, AIM.extract)]],
    ["API 429, 500 and 503 on its exec", "retried, the job goes on", execBurst([429, 500, 503])],
  ]),
  {
    phase: "copy in",
    fault: "exec drop on every attempt",
    outcome: "prepare_job fails naming the copy and the broken connection; cleanup leaves nothing",
    run: prepareFails(
      [drop(0, AIM.extract, 3)],
      /Could not copy .* to \/__w in container "job" of pod .*: the exec connection broke 3 times/,
    ),
  },
  {
    phase: "copy in",
    fault: "SIGKILL while it stalls, then cleanup_job",
    outcome: "cleanup_job removes the pod the killed hook made",
    run: async (job) => {
      await job.faults([stall(0, AIM.extract)]);
      const run = job.startPrepare();
      await job.untilFaultsSpent();
      await killPrepareThenCleanup(job, run);
    },
  },

  // ---- step running: run_script_step's exec that starts and follows the step
  ...goingOn("step running", [
    ["exec drop after 300 bytes", "resumed: exit code, output once, one run", [
      drop(300, AIM.start),
    ]],
    ["exec drop at its start", "started once, nothing extracted over the step's changes", [
      drop(0, AIM.start),
    ]],
    [
      "exec drop after the upload's receipt, before the start is seen",
      "started once, nothing extracted over the step's changes",
      [drop(5, AIM.start)],
    ],
    ["exec drop, and again on the resume", "resumed twice: exit code, output once, one run", [
      drop(300, AIM.start),
      drop(100, AIM.resume),
    ]],
    [
      "exec stall after 300 bytes",
      "noticed by the heartbeat and resumed: exit code, output once, one run",
      [stall(300, AIM.start)],
    ],
    ["exec stall, then a drop of the resume", "resumed twice: exit code, output once, one run", [
      stall(300, AIM.start),
      drop(100, AIM.resume),
    ]],
    ["API 429, 500 and 503 on its exec", "retried, the step runs once", execBurst([503, 500, 429])],
  ]),
  {
    phase: "step running",
    fault: "eviction",
    outcome: "the step fails naming the eviction; cleanup_job leaves nothing",
    run: async (job) => {
      assertHookOk(await job.prepare(), "prepare_job");
      // Held: a real eviction gives the pod its grace period, in which a short step may end.
      const run = await job.startStep("A", STEP_CODE, true);
      await run.hook.waitForOutput("A line 10");
      await job.faults([{ kind: "evict", pod: job.jobPod }]);
      const step = await run.result;
      assertHookFailed(step, "the step");
      assert.match(
        errorOf(step),
        /was evicted while the step ran \((Evicted|EvictionByEvictionAPI): /,
      );
      // Its files went with the pod; what it printed until then was shown once.
      const shown = step.stdout.split("\n").filter((l) => l.startsWith("A line "));
      assert.deepEqual(shown, numbered("A").slice(0, shown.length), "output lost or repeated");
      assertHookOk(await job.cleanup(), "cleanup_job");
    },
  },
  {
    phase: "step running",
    fault: "connection refused for the step's hook",
    outcome: "the step fails naming the server and never runs; the next step runs",
    run: async (job) => {
      assertHookOk(await job.prepare(), "prepare_job");
      await refused(job, () => job.step("A"), "the step");
      await job.assertNeverRan("A");
      await job.assertStep(await job.step("B"), "B");
      assertHookOk(await job.cleanup(), "cleanup_job");
    },
  },
  {
    phase: "step running",
    fault: "SIGKILL, then the next run_script_step",
    outcome: "the killed step runs on once and its files come back with the next step",
    run: async (job) => {
      assertHookOk(await job.prepare(), "prepare_job");
      const run = await job.startStep("A");
      await run.hook.waitForOutput("A line 10");
      await job.kill(run);
      // Detached: it goes on in the pod to its end, without its hook.
      await untilInPod(job, "made-A.txt");
      const next = await job.step("B");
      await job.assertStep(next, "B");
      assert.ok(!next.stdout.includes("A line"), "the next step showed the killed step's output");
      await job.assertRanOnce("A");
      // Not its change to the runner's file: see "Not covered yet" above.
      await job.assertArrived("A", { runnerFile: false });
      assertHookOk(await job.cleanup(), "cleanup_job");
      await job.assertRanOnce("A");
    },
  },
  {
    phase: "step running",
    fault: "SIGKILL, then cleanup_job",
    outcome: "the killed step runs on once and cleanup brings its files back",
    run: async (job) => {
      assertHookOk(await job.prepare(), "prepare_job");
      const run = await job.startStep("A");
      await run.hook.waitForOutput("A line 10");
      await job.kill(run);
      await untilInPod(job, "made-A.txt");
      assertHookOk(await job.cleanup(), "cleanup_job");
      await job.assertRanOnce("A");
      await job.assertArrived("A");
    },
  },

  // ---- step copy back: run_script_step's exec that brings the step's changes back
  ...goingOn("step copy back", [
    ["exec drop mid-stream", "copied again: the step's exit code and files", [
      drop(1200, AIM.pack),
    ]],
    // The step's start passes; its copy back meets the burst.
    ["API 503 burst on its exec", "retried: the step's exit code and files", [
      apiError(503, "GET", EXEC, 2, 1),
    ]],
  ]),
  {
    phase: "step copy back",
    fault: "exec drop on every attempt",
    outcome: "the step fails naming the copy back; its files come back at cleanup",
    run: async (job) => {
      assertHookOk(await job.prepare(), "prepare_job");
      // The copy back's exec opened while the step runs (kube/armed_exec.ts), then its 3 attempts.
      await job.faults([drop(0, AIM.pack, 4)]);
      const step = await job.step("A");
      assertHookFailed(step, "the step");
      assert.match(
        errorOf(step),
        /Could not copy \/__w in container "job" of pod \S+ to \S+: the exec connection broke 3 times/,
      );
      job.assertOutput(step, "A");
      await job.faultsSpent();
      assertHookOk(await job.cleanup(), "cleanup_job");
      await job.assertRanOnce("A");
      await job.assertArrived("A");
    },
  },
  {
    phase: "step copy back",
    fault: "SIGKILL while it stalls, then the next run_script_step",
    outcome: "the step is not run again and its files come back with the next step",
    run: async (job) => {
      assertHookOk(await job.prepare(), "prepare_job");
      await job.faults([stall(0, AIM.pack)]);
      const run = await job.startStep("A");
      await job.untilFaultsSpent();
      await job.kill(run);
      await job.assertStep(await job.step("B"), "B");
      await job.assertRanOnce("A");
      // Not its change to the runner's file: see "Not covered yet" above.
      await job.assertArrived("A", { runnerFile: false });
      assertHookOk(await job.cleanup(), "cleanup_job");
    },
  },

  // ---- container step: run_container_step, an ephemeral container of the job pod
  ...goingOn("container step", [
    ["exec drop of its upload", "sent again: exit code, output once, one run", [
      drop(0, AIM.extract),
    ]],
    ["exec stall of its upload", "noticed at the heartbeat deadline, sent again", [
      stall(0, AIM.extract),
    ]],
    ["exec drop of its copy back", "copied again: exit code, files", [drop(1200, AIM.pack)]],
    ["log stream drop after 200 bytes", "resumed: exit code, output once", [
      { kind: "log-drop", afterBytes: 200 },
    ]],
    ["API 429 on adding the container and 503 on its log", "retried: exit code, output once", [
      apiError(429, "PATCH", "ephemeralcontainers$"),
      apiError(503, "GET", "/log$", 2),
    ]],
  ]),
  {
    phase: "container step",
    fault: "eviction",
    outcome: "the step fails naming the eviction; cleanup_job leaves nothing",
    run: async (job) => {
      await job.untilStepA();
      const run = await job.startContainerStep(true);
      await run.hook.waitForOutput("C line 10");
      await job.faults([{ kind: "evict", pod: job.jobPod }]);
      const step = await run.result;
      assertHookFailed(step, "the container step");
      assert.match(errorOf(step), /was evicted while it ran/);
      assertHookOk(await job.cleanup(), "cleanup_job");
    },
  },
  {
    phase: "container step",
    fault: "SIGKILL, then the next run_script_step",
    outcome: "the next step runs; the killed step ran once; cleanup removes its secret",
    run: async (job) => {
      await job.untilStepA();
      const run = await job.startContainerStep();
      await run.hook.waitForOutput("C line 10");
      await job.kill(run);
      await untilInPod(job, "made-C.txt");
      await job.assertStep(await job.step("B"), "B");
      await job.assertRanOnce("C");
      await job.assertArrived("C");
      assertHookOk(await job.cleanup(), "cleanup_job");
    },
  },

  // ---- cleanup copy back: cleanup_job's exec that brings back what changed since the last step
  ...goingOn("cleanup copy back", [
    ["exec drop mid-stream", "copied again: the files arrive, nothing is left", [
      drop(600, AIM.pack),
    ]],
    [
      "API 429, 500 and 503 on its exec",
      "retried: the files arrive, nothing is left",
      execBurst([429, 500, 503]),
    ],
  ]),
  {
    phase: "cleanup copy back",
    fault: "exec drop on every attempt",
    outcome: "cleanup_job warns naming the copy and the broken connection, and deletes",
    run: async (job) => {
      await job.untilStepA();
      await job.faults([drop(0, AIM.pack, 3)]);
      const cleaned = await job.cleanup();
      assertHookOk(cleaned, "cleanup_job");
      assert.match(
        logOf(cleaned),
        /::warning::kubehook could not copy the workspace back: Could not copy \/__w .* the exec connection broke 3 times/,
      );
      await job.faultsSpent();
    },
  },
  {
    phase: "cleanup copy back",
    fault: "eviction before it",
    outcome: "cleanup_job warns naming the eviction, and deletes",
    run: async (job) => {
      await job.untilStepA();
      await job.faults([{ kind: "evict", pod: job.jobPod }]);
      const cleaned = await job.cleanup();
      assertHookOk(cleaned, "cleanup_job");
      assert.match(
        logOf(cleaned),
        /::warning::kubehook could not copy the workspace back: the job pod "\S+" was evicted \(/,
      );
    },
  },
  {
    phase: "cleanup copy back",
    fault: "SIGKILL while it stalls, then the next job's prepare_job",
    outcome: "the next prepare_job removes what was left, naming it",
    run: async (job) => {
      await job.untilStepA();
      const jobPod = job.jobPod;
      await job.faults([stall(0, AIM.pack)]);
      const run = job.sim.start("cleanup_job", {});
      await job.untilFaultsSpent();
      await job.kill(run);
      await job.nextJobCleansUp(jobPod);
    },
  },

  // ---- deletion: cleanup_job's removal of the job's objects
  ...goingOn("deletion", [
    ["API 500 and 503 burst on deleting and listing", "retried: nothing is left", (job) => [
      apiError(503, "DELETE", `/pods/${job.jobPod}$`, 2),
      apiError(500, "GET", "/pods$"),
    ]],
  ]),
  {
    phase: "deletion",
    fault: "connection refused for cleanup_job",
    outcome: "cleanup_job fails naming the server; the next prepare_job removes what was left",
    run: async (job) => {
      await job.untilStepA();
      const jobPod = job.jobPod;
      await refused(job, () => job.cleanup(), "cleanup_job");
      await job.nextJobCleansUp(jobPod);
    },
  },
  {
    phase: "deletion",
    fault: "SIGKILL while it waits out a 429, then the next job's prepare_job",
    outcome: "the next prepare_job removes what was left, naming it",
    run: async (job) => {
      await job.untilStepA();
      const jobPod = job.jobPod;
      // Each 429 says Retry-After: 1, so the hook waits in the deletion.
      await job.faults([apiError(429, "DELETE", `/pods/${jobPod}$`, 4)]);
      const run = job.sim.start("cleanup_job", {});
      for (let i = 0;; i++) {
        const left = await job.hc.faultsLeft() as { count: number }[];
        if (left[0]?.count < 4) break;
        assert.ok(i < 300, "cleanup_job never tried to delete the pod");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await job.kill(run);
      await job.hc.cluster.clearFaults();
      await job.nextJobCleansUp(jobPod);
    },
  },
];

Deno.test("fault matrix: each phase of a job under each fault the clusters inject", async (t) => {
  await using hc = await HookCluster.start();
  const tier = hc.cluster.tier;
  const dir = await Deno.makeTempDir({ prefix: "kubehook-fault-matrix-" });
  const only = new RegExp(Deno.env.get("KUBEHOOK_FAULT_MATRIX_ROWS") ?? "");
  try {
    for (const [index, row] of ROWS.entries()) {
      const name = `${row.phase} × ${row.fault}: ${row.outcome}`;
      if (!only.test(name)) continue;
      if (row.notOn?.tier === tier) {
        await t.step({
          name: `${name} (skipped on the ${tier} tier: ${row.notOn.why})`,
          ignore: true,
          fn: () => {},
        });
        continue;
      }
      // The row's own kubeconfig, so a row can point one hook at another server.
      const kubeconfig = `${dir}/kubeconfig-${index}`;
      await Deno.copyFile(hc.cluster.kubeconfigPath, kubeconfig);
      await hc.job(t, name, async ({ sim, runnerPod }) => {
        await row.run(new Job(hc, sim, runnerPod, kubeconfig));
      }, { ...QUICK_HEARTBEAT, KUBECONFIG: kubeconfig, ...row.env });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
