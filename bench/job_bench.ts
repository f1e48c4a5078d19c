/**
 * A whole job against the same job scripted with kubectl (issue 4: "whole job, wall time —
 * baseline: the same job scripted with kubectl (apply, exec, cp, delete) the way a careful person
 * would — goal ≤ 1.0×"). One typical job, several times, the two sides in turns:
 *
 * - **kubehook**: a checked-out workspace ({@link CHECKOUT}: about 2,000 files and 20 MB, made once
 *   and copied into the runner's workspace before each job, untimed), prepare_job with the job
 *   container `debian:12` and no service, the three `run:` steps of {@link STEPS}, cleanup_job —
 *   each hook call as the runner makes it (bench_job.ts, the `runner` context).
 * - **kubectl**, the way a careful person scripts it, with the same context: `kubectl apply -f -`
 *   of a `debian:12` pod (`sleep infinity`, an emptyDir at `/__w`), `kubectl wait
 *   --for=condition=Ready`, `tar c -C WORKSPACE . | kubectl exec -i POD -- tar x` into
 *   `/__w/repo/repo`, the same three steps as `kubectl exec POD -- sh -ec 'cd /__w/repo/repo; …'`,
 *   the step's output brought back (`kubectl exec POD -- tar c build | tar x`), and `kubectl delete
 *   pod --grace-period=0 --force` (kubehook's grace period; kubectl needs `--force` to send 0),
 *   which waits until the pod is gone as cleanup_job does.
 *
 * Both sides must succeed: every hook call and every kubectl command must exit 0, the third step's
 * output must show the second step's file in the pod, and after the job the host workspace must
 * hold that file with the right content; anything else fails the section with what went wrong.
 *
 * The copy back: kubehook brings back after each step what the step changed (the second step's
 * `build/`), and cleanup_job what changed since (nothing here; `KUBEHOOK_COPY_BACK` defaults to
 * `changed`). The kubectl script brings back the same `build/` once, at the end: the same bytes,
 * the same host workspace afterwards. How long bringing back the whole workspace would take
 * (what a person who does not know what changed would do) is measured after each kubectl job and
 * shown in the note, outside the figure.
 *
 * A job's time is the sum of its hook calls, or of its kubectl commands (the runner's own work
 * between calls is left out, as the script's shell between commands is).
 *
 * Figures: the whole job's wall time (median of {@link JOBS}), each phase's beside kubectl's
 * (prepare, the steps, cleanup), and the job's API requests and exec sessions on both sides (the
 * cluster's `/_cluster/stats`). And what kubehook's pod has that the script's has not: the
 * script's pod started (`apply` + `wait Ready`) with kubehook's externals container against
 * without, in turns, {@link JOBS} times each.
 *
 * Run alone: `deno run -A bench/job_bench.ts`.
 *
 * @module
 */
import { type HookResult, jobContainer, type RunnerSim } from "../tests/support/runner_sim.ts";
import type { V1Pod } from "@kubernetes/client-node";
import { EXTERNALS_VOLUME, externalsContainer } from "../src/pod/externals.ts";
import {
  expectSuccess,
  requestBreakdown,
  RUNNER_IMAGE,
  startBenchJob,
  type StatsSnapshot,
} from "./bench_job.ts";
import type { Figure } from "./figure.ts";
import { hasKubectl, inTurns, median, round, timed } from "./measure.ts";

/** Measured jobs per side (after one unmeasured job each: image pulls, kubectl's discovery
 * cache, Deno's module cache); the median is reported. */
const JOBS = 5;
const RUNNER_POD = "bench-job";
/** The kubectl script's pod (kubehook's is `bench-job-workflow`). */
const KUBECTL_POD = "bench-job-kubectl";
const IMAGE = "debian:12";
/** The job container's workspace, as the runner lays it out (repository `repo`). */
const POD_WORKSPACE = "/__w/repo/repo";

/** The checkout: text sources in modules of 99 files, a README, and a `.git` with one pack. */
const CHECKOUT = {
  modules: 20,
  /** Each 1–11 KiB of text (6 KiB on average). */
  filesPerModule: 99,
  /** `.git/objects/pack`: one pack of random bytes. */
  packBytes: 8 << 20,
};
/** Source files the checkout holds (the third step counts them in the pod). */
const SOURCE_FILES = CHECKOUT.modules * CHECKOUT.filesPerModule;

/** The job's `run:` steps, the same text on both sides, in the workspace. */
const STEPS = [
  { label: "echo hi", script: "echo hi", expect: "hi" },
  {
    label: "write build/",
    script: "mkdir -p build\nfind src -type f | sort > build/manifest.txt\n" +
      "wc -l < build/manifest.txt > build/count",
    expect: undefined,
  },
  {
    label: "read and list",
    script: 'echo "files: $(cat build/count)"\ngrep -rl TODO src | wc -l\nls -l build',
    expect: `files: ${SOURCE_FILES}`,
  },
];

/** One job's phases, in ms. */
type Phases = Record<string, number>;

/** The phases of each side, as the figures name them. */
const PHASES = {
  kubehook: ["prepare_job", "step 1", "step 2", "step 3", "cleanup_job"],
  kubectl: ["apply", "wait Ready", "copy in", "step 1", "step 2", "step 3", "copy back", "delete"],
};
/** Which phases make the three rows of the breakdown, side by side. */
const GROUPS: { label: string; kubehook: string[]; kubectl: string[] }[] = [
  {
    label: "prepare (pod Ready, workspace in)",
    kubehook: ["prepare_job"],
    kubectl: ["apply", "wait Ready", "copy in"],
  },
  {
    label: "the 3 steps",
    kubehook: ["step 1", "step 2", "step 3"],
    kubectl: ["step 1", "step 2", "step 3"],
  },
  {
    label: "cleanup (changes back, pod gone)",
    kubehook: ["cleanup_job"],
    kubectl: ["copy back", "delete"],
  },
];

export async function run(): Promise<Figure[]> {
  if (!await hasKubectl()) {
    throw new Error("kubectl is not on PATH, and this section's baseline is a kubectl script");
  }
  const dir = await Deno.makeTempDir({ prefix: "kubehook-bench-job-" });
  try {
    return await measure(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function measure(dir: string): Promise<Figure[]> {
  const checkout = await makeCheckout(`${dir}/checkout`);
  await using job = await startBenchJob({ runnerPod: RUNNER_POD });
  // kubectl's own HOME: its discovery cache lives there, warm after the unmeasured job.
  await Deno.mkdir(`${dir}/kubectl-home`);
  const kubectl = new KubectlScript(job.cluster.kubeconfigPath, `${dir}/kubectl-home`);
  const hostWorkspace = `${dir}/kubectl-workspace`;
  const samples = { kubehook: [] as Phases[], kubectl: [] as Phases[] };
  const stats: { kubehook?: StatsSnapshot; kubectl?: StatsSnapshot } = {};
  const wholeBack: number[] = [];
  const kubehookJob = async (measured: boolean) => {
    await freshCheckout(checkout.root, job.sim.workspace);
    await clearRunnerTemp(job.sim);
    await job.resetStats();
    const phases = await kubehookPhases(job.sim);
    stats.kubehook = await job.stats();
    await checkBuildBack(job.sim.workspace, "kubehook");
    if (measured) samples.kubehook.push(phases);
  };
  const kubectlJob = async (measured: boolean) => {
    await freshCheckout(checkout.root, hostWorkspace);
    await job.resetStats();
    let before: StatsSnapshot | undefined;
    const phases = await kubectl.job(hostWorkspace, async (aside) => {
      // Uncounted: the requests so far are kept, the aside's are dropped.
      before = await job.stats();
      const ms = await timed(aside);
      if (measured) wholeBack.push(ms);
      await job.resetStats();
    });
    stats.kubectl = addStats(before!, await job.stats());
    await checkBuildBack(hostWorkspace, "kubectl");
    if (measured) samples.kubectl.push(phases);
  };
  await kubehookJob(false);
  await kubectlJob(false);
  for (let i = 0; i < JOBS; i++) {
    await inTurns(i, () => kubehookJob(true), () => kubectlJob(true));
  }
  const starts = { init: [] as number[], plain: [] as number[] };
  for (let i = 0; i < JOBS; i++) {
    await inTurns(
      i,
      async () => void starts.init.push(await kubectl.podStart(true)),
      async () => void starts.plain.push(await kubectl.podStart(false)),
    );
  }
  return [
    ...figures(samples, stats as Required<typeof stats>, checkout, wholeBack),
    {
      name:
        `kubectl's pod with kubehook's externals container: apply + wait Ready (median of ${JOBS})`,
      value: round(median(starts.init)),
      unit: "ms",
      baseline: { value: round(median(starts.plain)), source: "the same pod without it" },
      note: `with: ${starts.init.map((ms) => round(ms)).join(", ")} ms; without: ` +
        `${starts.plain.map((ms) => round(ms)).join(", ")} ms (what kubehook's prepare_job pays ` +
        "for the externals JavaScript actions need, and the script's job does without; Ready is " +
        "when the copy runs: prepare_job waits for its end beside the workspace copy)",
    },
  ];
}

/** One kubehook job: each hook call's wall time. */
async function kubehookPhases(sim: RunnerSim): Promise<Phases> {
  const phases: Phases = {};
  const call = async (phase: string, what: string, hook: () => Promise<HookResult>) => {
    const started = performance.now();
    const result = expectSuccess(what, await hook());
    phases[phase] = performance.now() - started;
    return result;
  };
  await call(
    "prepare_job",
    `prepare_job (${IMAGE})`,
    () => sim.prepareJob({ container: jobContainer(IMAGE), services: [] }),
  );
  for (const [index, step] of STEPS.entries()) {
    const result = await call(
      `step ${index + 1}`,
      `run_script_step '${step.label}'`,
      () => sim.scriptStep(step.script),
    );
    if (step.expect !== undefined && !result.stdout.includes(step.expect)) {
      throw new Error(
        `kubehook: step ${index + 1} (${step.label}) ran but its output lacks "${step.expect}":\n` +
          result.stdout,
      );
    }
  }
  await call("cleanup_job", "cleanup_job", () => sim.cleanupJob());
  return phases;
}

/** The script's kubectl commands: its pod applied from stdin, waited for, deleted (and waited
 * for: cleanup_job waits too; `--force` to send a grace period of 0, as kubehook does). */
const KUBECTL = "kubectl --context runner";
const APPLY = `${KUBECTL} apply -f -`;
const WAIT_READY = `${KUBECTL} wait --for=condition=Ready pod/${KUBECTL_POD} --timeout=300s`;
const DELETE = `${KUBECTL} delete pod ${KUBECTL_POD} --grace-period=0 --force --wait=true`;

/** The job as a careful person scripts it with kubectl. */
class KubectlScript {
  #env: Record<string, string>;

  constructor(kubeconfig: string, home: string) {
    this.#env = { KUBECONFIG: kubeconfig, HOME: home, PATH: Deno.env.get("PATH") ?? "" };
  }

  /** One job. `wholeBack` runs a copy back of the whole workspace, which is not part of the job
   * (it measures it, outside the job's figures and request counts). */
  async job(
    workspace: string,
    wholeBack: (copy: () => Promise<unknown>) => Promise<void>,
  ): Promise<Phases> {
    const phases: Phases = {};
    const exec = `${KUBECTL} exec ${KUBECTL_POD} -c job --`;
    const step = async (phase: string, command: string, stdin?: string) => {
      const started = performance.now();
      const output = await this.#sh(phase, command, stdin);
      phases[phase] = performance.now() - started;
      return output;
    };
    await step("apply", APPLY, JSON.stringify(kubectlPod(false)));
    await step("wait Ready", WAIT_READY);
    await step(
      "copy in",
      `tar c -C ${workspace} . | ${exec.replace(" exec ", " exec -i ")} ` +
        `sh -c 'mkdir -p ${POD_WORKSPACE} && tar x -C ${POD_WORKSPACE}'`,
    );
    for (const [index, { label, script, expect }] of STEPS.entries()) {
      const phase = `step ${index + 1}`;
      const stdout = await step(
        phase,
        `${exec} sh -ec ${shellWord(`cd ${POD_WORKSPACE}\n${script}`)}`,
      );
      if (expect !== undefined && !stdout.includes(expect)) {
        throw new Error(
          `kubectl: step ${index + 1} (${label}) ran but its output lacks "${expect}":\n${stdout}`,
        );
      }
    }
    await step("copy back", `${exec} tar c -C ${POD_WORKSPACE} build | tar x -C ${workspace}`);
    // Not part of the figure: what bringing back everything would have cost instead.
    const whole = await Deno.makeTempDir({ dir: `${workspace}/..`, prefix: "whole-back-" });
    try {
      await wholeBack(() =>
        this.#sh("whole copy back", `${exec} tar c -C ${POD_WORKSPACE} . | tar x -C ${whole}`)
      );
    } finally {
      await Deno.remove(whole, { recursive: true });
    }
    await step("delete", DELETE);
    return phases;
  }

  /** The script's pod started (apply + wait Ready; deleted after, untimed), with kubehook's
   * externals container or without: its wall time in ms. */
  async podStart(withExternals: boolean): Promise<number> {
    const ms = await timed(async () => {
      await this.#sh("apply", APPLY, JSON.stringify(kubectlPod(withExternals)));
      await this.#sh("wait Ready", WAIT_READY);
    });
    await this.#sh("delete", DELETE);
    return ms;
  }

  /** Runs `command` in bash with pipefail; throws with its output when it fails. */
  async #sh(what: string, command: string, stdin?: string): Promise<string> {
    const child = new Deno.Command("bash", {
      args: ["-c", `set -o pipefail\n${command}`],
      env: this.#env,
      clearEnv: true,
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(stdin));
      await writer.close();
    }
    const output = await child.output();
    const decoder = new TextDecoder();
    if (output.code !== 0) {
      throw new Error(
        `kubectl script, ${what}: exit code ${output.code} from\n${command}\n` +
          decoder.decode(output.stderr) + decoder.decode(output.stdout),
      );
    }
    return decoder.decode(output.stdout);
  }
}

/** The kubectl script's pod: the job image sleeping, a workspace volume at `/__w`; with
 * `withExternals`, also kubehook's externals container and its volume. */
function kubectlPod(withExternals: boolean): V1Pod {
  const pod: V1Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: KUBECTL_POD, labels: { app: "bench-job-kubectl" } },
    spec: {
      restartPolicy: "Never",
      containers: [{
        name: "job",
        image: IMAGE,
        command: ["sleep", "infinity"],
        volumeMounts: [{ name: "work", mountPath: "/__w" }],
      }],
      volumes: [{ name: "work", emptyDir: {} }],
    },
  };
  if (withExternals) {
    pod.spec!.containers.push(externalsContainer(RUNNER_IMAGE));
    pod.spec!.volumes!.push({ name: EXTERNALS_VOLUME, emptyDir: {} });
  }
  return pod;
}

/** `text` as one single-quoted shell word. */
function shellWord(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The requests of `a` and `b` together. */
function addStats(a: StatsSnapshot, b: StatsSnapshot): StatsSnapshot {
  const requests = { ...a.requests };
  for (const [key, n] of Object.entries(b.requests)) requests[key] = (requests[key] ?? 0) + n;
  const sorted = Object.fromEntries(
    Object.entries(requests).sort(([x], [y]) => x.localeCompare(y)),
  );
  return {
    total: a.total + b.total,
    requests: sorted,
    execSessions: a.execSessions + b.execSessions,
  };
}

/** The checkout both sides start from. */
interface Checkout {
  root: string;
  files: number;
  bytes: number;
}

/** A repository checkout: {@link CHECKOUT}'s modules of text sources (1 in 10 says TODO), a
 * README, and a `.git` with config, HEAD, an index and one pack of random bytes. */
async function makeCheckout(root: string): Promise<Checkout> {
  const line = (n: number) =>
    `export function f${n}(value: number): number { return value * ${n} + ${n % 7}; }\n`;
  let text = "";
  for (let n = 0; text.length < 12 << 10; n++) text += line(n);
  const encoded = new TextEncoder().encode(text);
  let files = 0;
  let bytes = 0;
  const write = async (path: string, data: Uint8Array) => {
    await Deno.writeFile(`${root}/${path}`, data);
    files++;
    bytes += data.length;
  };
  for (let m = 0; m < CHECKOUT.modules; m++) {
    await Deno.mkdir(`${root}/src/m${m}`, { recursive: true });
    for (let f = 0; f < CHECKOUT.filesPerModule; f++) {
      const n = m * CHECKOUT.filesPerModule + f;
      const size = 1024 + ((n * 7919) % 10240);
      const marker = new TextEncoder().encode(`// file ${n}${n % 10 === 0 ? " TODO" : ""}\n`);
      const data = new Uint8Array(marker.length + size);
      data.set(marker);
      data.set(encoded.subarray(0, size), marker.length);
      await write(`src/m${m}/file${f}.ts`, data);
    }
  }
  await write("README.md", new TextEncoder().encode("# repo\n\nA checkout for the bench.\n"));
  await Deno.mkdir(`${root}/.git/objects/pack`, { recursive: true });
  await write(".git/HEAD", new TextEncoder().encode("ref: refs/heads/main\n"));
  await write(".git/config", new TextEncoder().encode("[core]\n\trepositoryformatversion = 0\n"));
  await write(".git/index", randomBytes(files * 100));
  await write(".git/objects/pack/pack-0.pack", randomBytes(CHECKOUT.packBytes));
  return { root, files, bytes };
}

function randomBytes(length: number): Uint8Array {
  const data = new Uint8Array(length);
  for (let i = 0; i < length; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
  return data;
}

/** `to` becomes a fresh copy of `from` (a new checkout for the next job). */
async function freshCheckout(from: string, to: string): Promise<void> {
  await Deno.remove(to, { recursive: true }).catch(() => {});
  await Deno.mkdir(to, { recursive: true });
  const output = await new Deno.Command("cp", { args: ["-a", `${from}/.`, to], stderr: "piped" })
    .output();
  if (!output.success) throw new Error(`cp -a failed: ${new TextDecoder().decode(output.stderr)}`);
}

/** What the runner removes from `_temp` between jobs: the step scripts and file-command files. */
async function clearRunnerTemp(sim: RunnerSim): Promise<void> {
  for (const dir of [sim.temp, `${sim.temp}/_runner_file_commands`]) {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile) await Deno.remove(`${dir}/${entry.name}`);
    }
  }
}

/** After a job: the second step's `build/` must be in the host workspace, as the pod wrote it. */
async function checkBuildBack(workspace: string, side: string): Promise<void> {
  const read = (file: string) => Deno.readTextFile(`${workspace}/build/${file}`).catch(() => "");
  const manifest = (await read("manifest.txt")).split("\n").filter((l) => l);
  const count = (await read("count")).trim();
  if (manifest.length !== SOURCE_FILES || count !== String(SOURCE_FILES)) {
    throw new Error(
      `${side}: after the job the host workspace's build/ holds ${manifest.length} manifest ` +
        `lines and count "${count}", not the ${SOURCE_FILES} the pod wrote: the copy back failed`,
    );
  }
}

function figures(
  samples: { kubehook: Phases[]; kubectl: Phases[] },
  stats: { kubehook: StatsSnapshot; kubectl: StatsSnapshot },
  checkout: Checkout,
  wholeBack: number[],
): Figure[] {
  const total = (phases: Phases) => Object.values(phases).reduce((a, b) => a + b, 0);
  const sum = (phases: Phases, names: string[]) => names.reduce((a, n) => a + phases[n], 0);
  const med = (side: "kubehook" | "kubectl", f: (p: Phases) => number) =>
    round(median(samples[side].map(f)));
  const list = (side: "kubehook" | "kubectl") =>
    PHASES[side].map((phase) => `${phase} ${med(side, (p) => p[phase])}`).join(", ");
  const runs = (side: "kubehook" | "kubectl") =>
    samples[side].map((p) => round(total(p))).join(", ");
  const mb = round(checkout.bytes / 1e6, 1);
  const load = Deno.loadavg().map((l) => l.toFixed(2)).join(" ");
  const source = "the same job scripted with kubectl (apply, wait, tar | exec -i, 3 exec, " +
    "exec tar c | tar x, delete --wait), same run";
  return [
    {
      name: `whole job (prepare, 3 steps, cleanup): wall time (median of ${JOBS})`,
      value: med("kubehook", total),
      unit: "ms",
      goal: "≤ 1.0×",
      baseline: { value: med("kubectl", total), source },
      note: `${checkout.files} files, ${mb} MB checked out, job container ${IMAGE}, no service; ` +
        `phase medians, kubehook: ${list("kubehook")} ms; kubectl: ${list("kubectl")} ms; ` +
        `jobs: kubehook ${runs("kubehook")} ms, kubectl ${runs("kubectl")} ms; ` +
        "both bring back build/ (the 2 files step 2 wrote; kubehook after step 2, cleanup_job " +
        "finds nothing more with KUBEHOOK_COPY_BACK=changed); kubectl bringing back the whole " +
        `workspace instead would take ${round(median(wholeBack))} ms (median, not counted); ` +
        `the kubectl pod has no externals container; load average ${load} ` +
        "(other work shares this machine: ratios hold, absolute times do not)",
    },
    ...GROUPS.map(({ label, kubehook, kubectl }): Figure => ({
      name: `phase: ${label} (median)`,
      value: med("kubehook", (p) => sum(p, kubehook)),
      unit: "ms",
      baseline: { value: med("kubectl", (p) => sum(p, kubectl)), source: kubectl.join(" + ") },
    })),
    {
      name: "whole job: API requests",
      value: stats.kubehook.total,
      unit: "",
      baseline: { value: stats.kubectl.total, source: "the kubectl script" },
      note: `kubehook ${requestBreakdown(stats.kubehook)}; kubectl ${
        requestBreakdown(stats.kubectl)
      }`,
    },
    {
      name: "whole job: exec sessions",
      value: stats.kubehook.execSessions,
      unit: "",
      baseline: { value: stats.kubectl.execSessions, source: "the kubectl script" },
    },
  ];
}

if (import.meta.main) {
  const { formatTable } = await import("./figure.ts");
  console.log(formatTable([{ section: "job", figures: await run() }]));
}
