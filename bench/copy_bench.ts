/**
 * Workspace copies against `kubectl` (issue 16), every figure against a baseline measured in the
 * same run, through the same local cluster (a process of its own, its files in /dev/shm when there
 * is room, so that neither the bench's own thread nor the disk is measured), into the same pod:
 *
 * - host → pod, 200 MB in 5,000 files and 20,000 small files: what a user pays, prepare_job with
 *   the tree in the workspace minus prepare_job with an empty one (pairs of jobs, the median of
 *   the differences), against `tar c -C DIR . | kubectl exec -i POD -c job -- tar x -C DEST` into
 *   the job pod the first prepare_job made (goal ≤ 1.0×); and `copyToPod` alone in a process of
 *   its own (copy_process.ts), which also pays start-up and the first TLS handshake, as kubectl
 *   does;
 * - pod → host, 200 MB: `copyFromPod` into the safe extractor in a process of its own, against
 *   `kubectl exec POD -c job -- tar c -C SRC . | tar x -C DIR` (goal ≤ 1.0×);
 * - the incremental sync of an unchanged 20,000-file workspace: a `run_script_step` of `true` in
 *   the job holding the tree minus the same step in the job with an empty workspace, steps taken
 *   in turns (goal ≤ 50 ms), with its two parts beside it: the host's change detection and the
 *   pod's side of the copy back;
 * - where the time goes: kubectl into kubehook's own pod extract script, kubectl fed by kubehook's
 *   own host tar command (each against plain kubectl), the JavaScript that the sending side runs
 *   over every entry (counting them for the pod's receipt) and every byte (framing and masking),
 *   and a copy of an empty directory (the fixed part: start-up, TLS, one exec) against kubectl's;
 * - how copy time grows with size (10 MB, 100 MB; 1 GB with `--large`) and with file count (1,000,
 *   10,000, 50,000 files), kubehook's copy process and kubectl side by side, with the time per MB
 *   (per 1,000 files) from each point to the next: equal numbers make a straight line;
 * - API requests and exec sessions of each call (the cluster's `/_cluster/stats`);
 * - with `--large`: peak RSS of prepare_job and cleanup_job (`KUBEHOOK_COPY_BACK=all`) moving a 2
 *   GiB tree, and of the copy process each way, against the same process with an empty workspace
 *   (goal ≤ 1.3×), kubectl's beside them (the copy process runs with the V8 flags
 *   scripts/hook.sh gives a hook); and the copy back once more without those flags, which shows
 *   how much of the peak is garbage not yet collected.
 *
 * Every copy's note tells where its CPU went: the copying side's (the process with its tars) and
 * the cluster's (the API server and the pod's processes), both on the same two cores. Repetitions
 * alternate which side goes first.
 *
 * With `--before DIR` (bench/main.ts), the copy processes, the incremental sync's steps, the
 * change detection, the entry counting, the empty copy and the 2 GiB peaks are also measured with
 * that tree's code (its hook, its copy process run with its hook's `--v8-flags`), in turns with
 * this tree's, and shown beside as "(--before)".
 *
 * Run alone: `deno run -A bench/copy_bench.ts [--large]` (about 2 minutes on 2 cores; `--large`
 * adds about 2.5 more); `deno task bench` calls {@link run}.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import { KubeClient } from "../src/kube/client.ts";
import { loadKubeAccess } from "../src/kube/config.ts";
import { execIn } from "../src/kube/exec.ts";
import { podsPath } from "../src/kube/paths.ts";
import { encodeFrame, Opcode } from "../src/kube/websocket_frames.ts";
import { copyFromPod } from "../src/transfer/copy.ts";
import { type ArchiveCount, ArchiveCounter } from "../src/transfer/counting.ts";
import { packHostTree } from "../src/transfer/host_pack.ts";
import { podExtractScript } from "../src/transfer/pod_scripts.ts";
import { listHostChanges, syncMarkNow } from "../src/transfer/host_changes.ts";
import type { StatsSnapshot } from "../tests/cluster/api/stats.ts";
import { jobContainer, RunnerSim } from "../tests/support/runner_sim.ts";
import { expectSuccess } from "./bench_job.ts";
import { type ClusterProcess, startClusterProcess } from "./cluster_process.ts";
import { beforeFigure, type Figure } from "./figure.ts";
import {
  GNU_TIME,
  hasKubectl,
  type HookTree,
  inTurns,
  type MeasuredHook,
  measuredHook,
  median,
  peakMbFromReport,
  requireGnuTime,
  round,
  timed,
} from "./measure.ts";

/** Repetitions of each copy comparison; the median is reported. */
const REPEAT = 7;
/** Repetitions of each point of the growth curves. */
const CURVE_REPEAT = 3;
/** Repetitions of each way of copying when the copy is taken apart. */
const PARTS_REPEAT = 5;
/** Repetitions of each 2 GiB copy (`--large`). */
const MEMORY_REPEAT = 3;
/** Steps in each job for the incremental sync. */
const STEPS = 9;
/** The job container (src/pod/names.ts), also the bench pod's container. */
const CONTAINER = "job";
/** What the hooks leave out of a copy (src/hooks/workspace.ts). */
const EXCLUDED = [".kubehook", "_temp/_runner_hook_responses"];
/** prepare_job's change marker in the job pod (src/hooks/workspace.ts). */
const PREPARE_MARK = "/__w/.kubehook/marks/prepare";
/** How long the bench pod may take to start. */
const POD_START_MS = 120_000;
/** This tree's root. */
const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const MB = 1_000_000;
const GIB = 1024 ** 3;

/** A tree: `files` files of `fileBytes` each, 100 to a directory. */
export interface TreeSpec {
  label: string;
  files: number;
  fileBytes: number;
}

const BIG: TreeSpec = { label: "200 MB in 5,000 files", files: 5_000, fileBytes: 40_000 };
const SMALL: TreeSpec = { label: "20,000 small files", files: 20_000, fileBytes: 300 };
const SIZE_CURVE: TreeSpec[] = [
  { label: "10 MB in 250 files", files: 250, fileBytes: 40_000 },
  { label: "100 MB in 2,500 files", files: 2_500, fileBytes: 40_000 },
];
const SIZE_CURVE_LARGE: TreeSpec = {
  label: "1 GB in 25,000 files",
  files: 25_000,
  fileBytes: 40_000,
};
const COUNT_CURVE: TreeSpec[] = [
  { label: "1,000 files of 300 B", files: 1_000, fileBytes: 300 },
  { label: "10,000 files of 300 B", files: 10_000, fileBytes: 300 },
  { label: "50,000 files of 300 B", files: 50_000, fileBytes: 300 },
];
/** The memory figures' tree: 2 GiB in 8,192 files of 256 KiB. */
const HUGE: TreeSpec = { label: "2 GiB in 8,192 files", files: 8_192, fileBytes: 256 * 1024 };

/** Bytes the run keeps at once (host trees, the pods' copies, the copies back), by default and
 * with `--large`: /dev/shm is used when it and the memory have this much room to spare. */
const ROOM_DEFAULT = 2 * GIB;
const ROOM_LARGE = 9 * GIB;

/** The host tar kubehook runs for a whole copy (src/transfer/host_pack.ts), but reading the
 * directory itself: PAX, without per-file times, numeric owners, 64 KiB records. */
const HOST_TAR = [
  "tar",
  "--create",
  "--file=-",
  "--format=posix",
  "--pax-option=delete=atime,delete=ctime,delete=mtime",
  "--numeric-owner",
  "--blocking-factor=128",
];

const KUBECTL_IN = "tar c | kubectl exec -i POD -- tar x, same pod, same run";
const KUBECTL_BACK = "kubectl exec POD -- tar c | tar x, same pod, same run";

export interface CopyBenchOptions {
  /** Also the 1 GB point of the size curve and the 2 GiB memory figures. */
  large?: boolean;
  /** A checkout of another revision, measured beside this tree (bench/main.ts `--before`). */
  before?: string;
}

export async function run(options: CopyBenchOptions = {}): Promise<Figure[]> {
  await requireGnuTime();
  if (!await hasKubectl()) {
    throw new Error("kubectl is not on PATH, and every figure here is measured against it");
  }
  const large = options.large ?? false;
  const base = await benchDir(large ? ROOM_LARGE : ROOM_DEFAULT);
  try {
    await using cluster = await startClusterProcess(`${base.dir}/cluster`);
    const bench = await CopyBench.start(cluster, base.dir, options.before);
    try {
      const figures = [
        ...await bench.hookCopies(),
        ...await bench.curves(large),
        ...(large ? await bench.memory() : []),
      ];
      if (!base.inMemory) {
        for (const f of figures) {
          f.note = `${
            f.note ? `${f.note}; ` : ""
          }trees on disk (${base.dir}): /dev/shm had no room`;
        }
      }
      return figures;
    } finally {
      await bench.close();
    }
  } finally {
    await Deno.remove(base.dir, { recursive: true }).catch(() => {});
  }
}

/** One measured process. */
interface Sample {
  ms: number;
  /** User and system CPU of the process and its children (the tars). */
  cpuMs: number;
  /** CPU the cluster process spent meanwhile: API server, and the pod's processes it reaped. */
  clusterCpuMs: number;
  peakMb: number;
}

/** Samples of one way of copying. */
class Samples {
  readonly all: Sample[] = [];
  push(sample: Sample): void {
    this.all.push(sample);
  }
  median(field: keyof Sample = "ms"): number {
    return median(this.all.map((s) => s[field]));
  }
  /** "runs 610, 655 ms; CPU 520 ms here + 540 ms cluster; 70 MB": medians but for the runs. */
  text(): string {
    return `runs ${listMs(this.all.map((s) => s.ms))}; CPU ${round(this.median("cpuMs"))} ms ` +
      `here + ${round(this.median("clusterCpuMs"))} ms cluster; peak RSS ${
        round(this.median("peakMb"))
      } MB`;
  }
}

/** The bench's own pod, for the curves and the copy processes' memory. */
const BENCH_POD = "copy-bench";

class CopyBench {
  #cluster: ClusterProcess;
  #admin: KubeClient;
  #namespace: string;
  #dir: string;
  /** The --before tree's root, when given. */
  #before: string | undefined;
  /** The trees measured: this one, and the --before one when given. */
  #trees: HookTree[];
  #sims: RunnerSim[] = [];
  /** Calls counted by the cluster (item: what was called). */
  #stats: Record<string, StatsSnapshot> = {};

  private constructor(
    cluster: ClusterProcess,
    admin: KubeClient,
    dir: string,
    before: string | undefined,
  ) {
    this.#cluster = cluster;
    this.#admin = admin;
    this.#namespace = admin.access.namespace;
    this.#dir = dir;
    this.#before = before;
    this.#trees = before ? ["this", "before"] : ["this"];
  }

  static async start(
    cluster: ClusterProcess,
    dir: string,
    before: string | undefined,
  ): Promise<CopyBench> {
    const admin = new KubeClient(await loadKubeAccess({ KUBECONFIG: cluster.kubeconfig }));
    const bench = new CopyBench(cluster, admin, dir, before);
    try {
      await bench.#startBenchPod();
    } catch (error) {
      await bench.close();
      throw error;
    }
    return bench;
  }

  async close(): Promise<void> {
    for (const sim of this.#sims) await sim[Symbol.asyncDispose]().catch(() => {});
    this.#admin.close();
  }

  // ---- host → pod and pod → host as the hooks make them, and the incremental sync ----

  async hookCopies(): Promise<Figure[]> {
    const withTree = await this.#sim("bench-copy-tree", {});
    const empty = await this.#sim("bench-copy-empty", {});
    const figures: Figure[] = [];
    for (const spec of [BIG, SMALL]) {
      const tree = await makeTree(`${this.#dir}/trees/${spec.files}`, spec);
      const inWorkspace = `${withTree.sim.workspace}/tree`;
      const prepareDiff: number[] = [];
      const prepareTree: number[] = [];
      const prepareEmpty: number[] = [];
      const peakTree: number[] = [];
      const peakEmpty: number[] = [];
      const kubectlIn = new Samples();
      const processIn = { this: new Samples(), before: new Samples() };
      const kubectlBack = new Samples();
      const processBack = { this: new Samples(), before: new Samples() };
      let sync: Figure[] = [];
      for (let i = 0; i < REPEAT; i++) {
        const prepare = async (job: BenchSim, what: string) => {
          const ms = await this.#counted(
            `prepare_job, ${what}`,
            () =>
              timed(async () =>
                expectSuccess(
                  "prepare_job",
                  await job.sim.prepareJob({ container: jobContainer("debian:12"), services: [] }),
                )
              ),
          );
          return { ms, peakMb: peakMbFromReport(await Deno.readTextFile(job.report)) };
        };
        await Deno.rename(tree, inWorkspace);
        let a = { ms: 0, peakMb: 0 }, b = { ms: 0, peakMb: 0 };
        await inTurns(i, async () => {
          a = await prepare(withTree, spec.label);
        }, async () => {
          b = await prepare(empty, "empty workspace");
        });
        prepareTree.push(a.ms);
        prepareEmpty.push(b.ms);
        prepareDiff.push(a.ms - b.ms);
        peakTree.push(a.peakMb);
        peakEmpty.push(b.peakMb);
        const pod = jobPodOf(withTree.sim);
        // The same tree into the same pod: kubectl, and copyToPod in a process of its own (each
        // tree's into a directory of its own).
        await this.#podSh(pod, "mkdir -p /__w/kubectl-copy");
        await inTurns(
          i,
          async () => {
            const copy = `tar c -C ${inWorkspace} . | ${this.#kubectl(pod, "-i")} \
tar x -C /__w/kubectl-copy`;
            kubectlIn.push(
              await this.#sampleOf("this", `kubectl copy in, ${spec.label}`, ["sh", "-c", copy]),
            );
          },
          ...this.#trees.map((which) => async () => {
            const into = `/__w/process-copy-${which}`;
            const command = this.#copyProcess("to-pod", pod, inWorkspace, into, which);
            processIn[which].push(
              await this.#sampleOf(which, `copy process in (copyToPod), ${spec.label}`, command),
            );
          }),
        );
        if (spec === BIG) {
          // Back again, from the pod's copy into fresh directories on the host.
          const backDir = `${this.#dir}/back`;
          const fresh = async () => {
            await Deno.remove(backDir, { recursive: true }).catch(() => {});
            await Deno.mkdir(backDir, { recursive: true });
          };
          await inTurns(
            i,
            async () => {
              await fresh();
              const copy = `${this.#kubectl(pod)} tar c -C /__w/kubectl-copy . \
| tar x -C ${backDir}`;
              kubectlBack.push(
                await this.#sampleOf("this", `kubectl copy back, ${spec.label}`, [
                  "sh",
                  "-c",
                  copy,
                ]),
              );
            },
            ...this.#trees.map((which) => async () => {
              await fresh();
              const command = this.#copyProcess(
                "from-pod",
                pod,
                backDir,
                "/__w/kubectl-copy",
                which,
              );
              processBack[which].push(
                await this.#sampleOf(
                  which,
                  `copy process back (copyFromPod), ${spec.label}`,
                  command,
                ),
              );
            }),
          );
          await Deno.remove(backDir, { recursive: true });
        }
        await this.#podSh(pod, "rm -rf /__w/kubectl-copy /__w/process-copy-*");
        if (spec === SMALL && i === REPEAT - 1) {
          sync = await this.#incrementalSync(withTree, empty);
        }
        await this.#counted(
          "cleanup_job (KUBEHOOK_COPY_BACK=none)",
          async () => expectSuccess("cleanup_job", await withTree.sim.cleanupJob()),
        );
        expectSuccess("cleanup_job", await empty.sim.cleanupJob());
        await Deno.rename(inWorkspace, tree);
      }
      const parts = await this.#whereTimeGoes(spec, tree);
      await Deno.remove(tree, { recursive: true });
      const kubectlMs = round(kubectlIn.median());
      figures.push(
        {
          name: `host → pod, ${spec.label}: prepare_job with it − with an empty workspace ` +
            `(median of ${REPEAT} pairs)`,
          value: round(median(prepareDiff)),
          unit: "ms",
          goal: "≤ 1.0×",
          baseline: { value: kubectlMs, source: KUBECTL_IN },
          note: `prepare_job ${round(median(prepareTree))} ms with it, ${
            round(median(prepareEmpty))
          } ms without (peak RSS ${round(median(peakTree))} MB and ${
            round(median(peakEmpty))
          } MB); differences ${listMs(prepareDiff)}; kubectl ${kubectlIn.text()}`,
        },
        ...this.#withBefore({
          name: `host → pod, ${spec.label}: copyToPod in a process of its own`,
          value: round(processIn.this.median()),
          unit: "ms",
          goal: "≤ 1.0×",
          baseline: { value: kubectlMs, source: KUBECTL_IN },
          note: processIn.this.text(),
        }, () => [round(processIn.before.median()), processIn.before.text()]),
      );
      if (spec === BIG) {
        figures.push(...this.#withBefore({
          name: `pod → host, ${spec.label}: copyFromPod into the safe extractor, own process`,
          value: round(processBack.this.median()),
          unit: "ms",
          goal: "≤ 1.0×",
          baseline: { value: round(kubectlBack.median()), source: KUBECTL_BACK },
          note: `${processBack.this.text()}; kubectl ${kubectlBack.text()}`,
        }, () => [round(processBack.before.median()), processBack.before.text()]));
      }
      figures.push(...sync, ...parts);
    }
    figures.push(...await this.#fixedCost(), ...requestFigures(this.#stats));
    return figures;
  }

  /** The copy taken apart, into the bench pod: kubectl with kubehook's own pod script, and with
   * kubehook's own host tar, each against plain kubectl; and in this process, what the sending
   * side does to every byte and every entry in JavaScript: counting the entries (for the pod's
   * receipt), and framing and masking the bytes (RFC 6455 makes a client mask). */
  async #whereTimeGoes(spec: TreeSpec, tree: string): Promise<Figure[]> {
    const plain = new Samples();
    const podScript = new Samples();
    const hostTar = new Samples();
    const extract = podExtractScript("/__w/x", { gzip: false });
    const variants: [Samples, string][] = [
      [plain, `tar c -C ${tree} . | ${this.#kubectl(BENCH_POD, "-i")} tar x -C /__w/x`],
      [
        podScript,
        `tar c -C ${tree} . | ${this.#kubectl(BENCH_POD, "-i")} sh -c ${shellWord(extract)}`,
      ],
      [
        hostTar,
        `${HOST_TAR.join(" ")} -C ${tree} . | ${this.#kubectl(BENCH_POD, "-i")} \
tar x -C /__w/x`,
      ],
    ];
    for (let i = 0; i < PARTS_REPEAT; i++) {
      // Each repetition starts with the next variant.
      for (let v = 0; v < variants.length; v++) {
        const [samples, script] = variants[(i + v) % variants.length];
        await this.#podSh(BENCH_POD, "rm -rf /__w/x && mkdir -p /__w/x");
        samples.push(await this.#sample(["sh", "-c", script]));
      }
    }
    await this.#podSh(BENCH_POD, "rm -rf /__w/x");
    // The archive kubehook sends, in memory, in the chunks it is sent in.
    const chunks: Uint8Array[] = [];
    const archive = await packHostTree(tree);
    for await (const chunk of archive.chunks()) chunks.push(chunk.slice());
    await archive.done;
    const counting: number[] = [];
    const countingBefore: number[] = [];
    const BeforeCounter = this.#before
      ? (await import(`${this.#before}/src/transfer/counting.ts`)).ArchiveCounter
      : undefined;
    const framing: number[] = [];
    const frame = new Uint8Array(2 * 64 * 1024);
    const stdin = Uint8Array.of(0);
    let counted: ArchiveCount | undefined;
    for (let i = 0; i < STEPS; i++) {
      // Both count the same: the --before counter checks this one.
      const steps = [async () => {
        counting.push(
          await timed(() => Promise.resolve(counted = countWith(ArchiveCounter, chunks))),
        );
      }];
      if (BeforeCounter) {
        steps.push(async () => {
          let theirs: ArchiveCount | undefined;
          countingBefore.push(
            await timed(() => Promise.resolve(theirs = countWith(BeforeCounter, chunks))),
          );
          if (counted && JSON.stringify(theirs) !== JSON.stringify(counted)) {
            throw new Error(`the counts differ: ${JSON.stringify([counted, theirs])}`);
          }
        });
      }
      await inTurns(i, ...steps);
      framing.push(
        await timed(() => {
          for (const chunk of chunks) {
            encodeFrame(Opcode.binary, [stdin, chunk], {
              mask: crypto.getRandomValues(new Uint8Array(4)),
              allocate: (size) => frame.subarray(0, size),
            });
          }
          return Promise.resolve();
        }),
      );
    }
    const kubectl = { value: round(plain.median()), source: "plain kubectl, same run" };
    return [
      {
        name: `where the time goes, ${spec.label}: kubectl into kubehook's pod extract script`,
        value: round(podScript.median()),
        unit: "ms",
        baseline: kubectl,
        note: `${podScript.text()}; plain kubectl ${plain.text()}`,
      },
      {
        name: `where the time goes, ${spec.label}: kubectl fed by kubehook's host tar command`,
        value: round(hostTar.median()),
        unit: "ms",
        baseline: kubectl,
        note: hostTar.text(),
      },
      ...this.#withBefore({
        name: `where the time goes, ${spec.label}: counting the archive's entries (JS, CPU)`,
        value: round(median(counting), 1),
        unit: "ms",
        note: `ArchiveCounter over the ${
          round(chunks.reduce((n, c) => n + c.length, 0) / MB)
        } MB archive in this process; runs ${listMs(counting)}`,
      }, () => [round(median(countingBefore), 1), `runs ${listMs(countingBefore)}`]),
      {
        name: `where the time goes, ${spec.label}: framing and masking the bytes (JS, CPU)`,
        value: round(median(framing)),
        unit: "ms",
        note: `encodeFrame with a mask, per 64 KiB chunk, in this process; runs ${listMs(framing)}`,
      },
    ];
  }

  /** What every copy pays before its first byte: the copy process and kubectl, each with an empty
   * directory, into the bench pod. */
  async #fixedCost(): Promise<Figure[]> {
    const dir = `${this.#dir}/empty-tree`;
    await Deno.mkdir(dir, { recursive: true });
    const ours = { this: new Samples(), before: new Samples() };
    const theirs = new Samples();
    for (let i = 0; i < REPEAT; i++) {
      await this.#podSh(BENCH_POD, "rm -rf /__w/a /__w/b-* && mkdir -p /__w/a");
      await inTurns(
        i,
        async () => {
          theirs.push(
            await this.#sample([
              "sh",
              "-c",
              `tar c -C ${dir} . | \
${this.#kubectl(BENCH_POD, "-i")} tar x -C /__w/a`,
            ]),
          );
        },
        ...this.#trees.map((which) => async () => {
          ours[which].push(
            await this.#sample(
              this.#copyProcess("to-pod", BENCH_POD, dir, `/__w/b-${which}`, which),
            ),
          );
        }),
      );
    }
    await this.#podSh(BENCH_POD, "rm -rf /__w/a /__w/b-*");
    await Deno.remove(dir);
    return this.#withBefore({
      name: "where the time goes: a copy of an empty directory (start-up, TLS, one exec)",
      value: round(ours.this.median()),
      unit: "ms",
      baseline: { value: round(theirs.median()), source: "the same with kubectl, same run" },
      note: `copy process ${ours.this.text()}; kubectl ${theirs.text()}`,
    }, () => [round(ours.before.median()), ours.before.text()]);
  }

  /** `true` as a step in turns in both jobs (the tree's, the empty one's), after one unmeasured
   * step in each; then the sync's two parts alone: the host's change detection (in this
   * process), and the pod's side of the copy back (copyFromPod of what changed since
   * prepare_job's marker: nothing), each job's, in turns. */
  async #incrementalSync(withTree: BenchSim, empty: BenchSim): Promise<Figure[]> {
    const step = (job: BenchSim) =>
      timed(async () => expectSuccess("run_script_step", await job.sim.scriptStep("true")));
    await step(withTree);
    await step(empty);
    const diff = { this: [] as number[], before: [] as number[] };
    const treeMs = { this: [] as number[], before: [] as number[] };
    const emptyMs = { this: [] as number[], before: [] as number[] };
    // With --before, both jobs switch to that tree's hook for the other pair of each round.
    const use = async (which: HookTree) => {
      await withTree.hook.use(which);
      await empty.hook.use(which);
    };
    try {
      for (let i = 0; i < STEPS; i++) {
        await inTurns(
          i,
          ...this.#trees.map((which) => async () => {
            await use(which);
            let a = 0, b = 0;
            await inTurns(i, async () => {
              a = which === "this"
                ? await this.#counted(
                  "run_script_step 'true', 20,000-file workspace",
                  () => step(withTree),
                )
                : await step(withTree);
            }, async () => {
              b = await step(empty);
            });
            treeMs[which].push(a);
            emptyMs[which].push(b);
            diff[which].push(a - b);
          }),
        );
      }
    } finally {
      await use("this");
    }
    const mark = await syncMarkNow();
    const detect = { this: [] as number[], before: [] as number[] };
    const detectors = { this: listHostChanges, before: listHostChanges };
    if (this.#before) {
      detectors.before =
        (await import(`${this.#before}/src/transfer/host_changes.ts`)).listHostChanges;
    }
    for (let i = 0; i < STEPS; i++) {
      await inTurns(
        i,
        ...this.#trees.map((which) => async () => {
          detect[which].push(
            await timed(() => detectors[which](withTree.sim.work, mark, { exclude: EXCLUDED })),
          );
        }),
      );
    }
    const back = `${this.#dir}/sync-back`;
    await Deno.mkdir(back, { recursive: true });
    const copyBack = (job: BenchSim) =>
      timed(() =>
        copyFromPod(execIn(this.#admin), {
          namespace: this.#namespace,
          pod: jobPodOf(job.sim),
          container: CONTAINER,
        }, {
          hostPath: back,
          podPath: "/__w",
          gzip: false,
          since: PREPARE_MARK,
          exclude: EXCLUDED,
          listing: true,
        })
      );
    const podDiff: number[] = [];
    for (let i = 0; i < STEPS; i++) {
      let a = 0, b = 0;
      await inTurns(i, async () => {
        a = await copyBack(withTree);
      }, async () => {
        b = await copyBack(empty);
      });
      podDiff.push(a - b);
    }
    await Deno.remove(back, { recursive: true });
    const stepsNote = (which: HookTree) =>
      `steps ${round(median(treeMs[which]))} ms with the tree, ${
        round(median(emptyMs[which]))
      } ms without; differences ${listMs(diff[which])}`;
    return [
      ...this.#withBefore({
        name: `incremental sync, unchanged 20,000-file workspace: step 'true' with it − ` +
          `without (median of ${STEPS} pairs)`,
        value: round(median(diff.this)),
        unit: "ms",
        goal: "≤ 50",
        note: stepsNote("this"),
      }, () => [round(median(diff.before)), stepsNote("before")]),
      ...this.#withBefore({
        name: "incremental sync, its host part: change detection (listHostChanges) alone",
        value: round(median(detect.this)),
        unit: "ms",
        note: `runs ${listMs(detect.this)}`,
      }, () => [round(median(detect.before)), `runs ${listMs(detect.before)}`]),
      {
        name:
          "incremental sync, its pod part: copy back of nothing, 20,000 files − empty workspace",
        value: round(median(podDiff)),
        unit: "ms",
        note: `copyFromPod since prepare_job's marker, in the bench's process; differences ${
          listMs(podDiff)
        }`,
      },
    ];
  }

  // ---- growth with size and file count ----

  async curves(large: boolean): Promise<Figure[]> {
    const figures: Figure[] = [];
    const series = [
      { what: "size", specs: [...SIZE_CURVE, ...(large ? [SIZE_CURVE_LARGE] : [])] },
      { what: "file count", specs: COUNT_CURVE },
    ];
    for (const { what, specs } of series) {
      const points: { spec: TreeSpec; process: Samples; kubectl: Samples }[] = [];
      for (const spec of specs) {
        const tree = await makeTree(`${this.#dir}/trees/curve`, spec);
        const process = new Samples();
        const kubectl = new Samples();
        for (let i = 0; i < CURVE_REPEAT; i++) {
          await this.#podSh(BENCH_POD, "rm -rf /__w/a /__w/b && mkdir -p /__w/a");
          await inTurns(i, async () => {
            kubectl.push(
              await this.#sample([
                "sh",
                "-c",
                `tar c -C ${tree} . | \
${this.#kubectl(BENCH_POD, "-i")} tar x -C /__w/a`,
              ]),
            );
          }, async () => {
            process.push(
              await this.#sample(this.#copyProcess("to-pod", BENCH_POD, tree, "/__w/b")),
            );
          });
        }
        await Deno.remove(tree, { recursive: true });
        points.push({ spec, process, kubectl });
      }
      await this.#podSh(BENCH_POD, "rm -rf /__w/a /__w/b");
      const x = (spec: TreeSpec) =>
        what === "size" ? spec.files * spec.fileBytes / MB : spec.files / 1000;
      const per = what === "size" ? "MB" : "1,000 files";
      const slopes = (pick: (p: typeof points[number]) => Samples) =>
        points.slice(1).map((p, k) =>
          round(
            (pick(p).median() - pick(points[k]).median()) / (x(p.spec) - x(points[k].spec)),
            1,
          )
        ).join(", ");
      for (const [index, { spec, process, kubectl }] of points.entries()) {
        const last = index === points.length - 1;
        figures.push({
          name: `growth with ${what}: host → pod, ${spec.label} (copy process)`,
          value: round(process.median()),
          unit: "ms",
          baseline: {
            value: round(kubectl.median()),
            source: "tar c | kubectl exec -i POD -- tar x, same run",
          },
          note: `${process.text()}; kubectl ${kubectl.text()}` +
            (last
              ? `. From each point to the next, ms per ${per}: kubehook ${
                slopes((p) => p.process)
              }; kubectl ${slopes((p) => p.kubectl)} (equal numbers: a straight line)`
              : ""),
        });
      }
    }
    return figures;
  }

  // ---- memory during a 2 GiB copy ----

  async memory(): Promise<Figure[]> {
    const tree = await makeTree(`${this.#dir}/trees/huge`, HUGE);
    const job = await this.#sim("bench-copy-memory", { KUBEHOOK_COPY_BACK: "all" });
    const inWorkspace = `${job.sim.workspace}/tree`;
    type Peaks = { prepare: number[]; cleanup: number[] };
    const noPeaks = (): Peaks => ({ prepare: [], cleanup: [] });
    const peaks = {
      this: { tree: noPeaks(), empty: noPeaks() },
      before: { tree: noPeaks(), empty: noPeaks() },
    };
    const hookPeaks = async (into: Peaks) => {
      expectSuccess(
        "prepare_job",
        await job.sim.prepareJob({ container: jobContainer("debian:12"), services: [] }),
      );
      into.prepare.push(peakMbFromReport(await Deno.readTextFile(job.report)));
      expectSuccess("cleanup_job", await job.sim.cleanupJob());
      into.cleanup.push(peakMbFromReport(await Deno.readTextFile(job.report)));
    };
    // The copy process each way, and the same with an empty directory.
    const back = `${this.#dir}/back`;
    const emptyDir = `${this.#dir}/empty`;
    await Deno.mkdir(emptyDir, { recursive: true });
    const fresh = async () => {
      await Deno.remove(back, { recursive: true }).catch(() => {});
      await Deno.mkdir(back);
    };
    const processSamples = () => ({
      toPod: new Samples(),
      toPodEmpty: new Samples(),
      fromPod: new Samples(),
      fromPodEmpty: new Samples(),
    });
    const processes = { this: processSamples(), before: processSamples() };
    // This tree's copy back once more without the V8 flags its hook.sh gives: what they add.
    const fromPodNoFlags = new Samples();
    try {
      for (let i = 0; i < MEMORY_REPEAT; i++) {
        await inTurns(
          i,
          ...this.#trees.map((which) => async () => {
            await job.hook.use(which);
            await Deno.rename(tree, inWorkspace);
            await hookPeaks(peaks[which].tree);
            await Deno.rename(inWorkspace, tree);
            await hookPeaks(peaks[which].empty);
            const copy = (direction: string, host: string, pod: string, flags = true) =>
              this.#sample(this.#copyProcess(direction, BENCH_POD, host, pod, which, flags));
            const own = processes[which];
            await this.#podSh(BENCH_POD, "rm -rf /__w/m /__w/e");
            own.toPod.push(await copy("to-pod", tree, "/__w/m"));
            own.toPodEmpty.push(await copy("to-pod", emptyDir, "/__w/e"));
            await fresh();
            own.fromPod.push(await copy("from-pod", back, "/__w/m"));
            await fresh();
            own.fromPodEmpty.push(await copy("from-pod", back, "/__w/e"));
            if (which === "this") {
              await fresh();
              fromPodNoFlags.push(await copy("from-pod", back, "/__w/m", false));
            }
          }),
        );
      }
    } finally {
      await job.hook.use("this");
    }
    // kubectl the same ways, once.
    await this.#podSh(BENCH_POD, "mkdir -p /__w/k");
    const kubectlIn = await this.#sample([
      "sh",
      "-c",
      `tar c -C ${tree} . | ${this.#kubectl(BENCH_POD, "-i")} tar x -C /__w/k`,
    ]);
    await fresh();
    const kubectlBack = await this.#sample([
      "sh",
      "-c",
      `${this.#kubectl(BENCH_POD)} tar c -C /__w/k . | tar x -C ${back}`,
    ]);
    await this.#podSh(BENCH_POD, "rm -rf /__w/m /__w/e /__w/k");
    await Deno.remove(back, { recursive: true });
    await Deno.remove(tree, { recursive: true });
    const mbList = (values: number[]) => values.map((v) => round(v)).join(", ") + " MB";
    const rss = (name: string, values: number[], empty: number[], note = ""): Figure => ({
      name: `peak RSS, ${name} (median of ${MEMORY_REPEAT})`,
      value: round(median(values), 1),
      unit: "MB",
      goal: "≤ 1.3×",
      baseline: { value: round(median(empty), 1), source: "the same, empty workspace" },
      note: `runs ${mbList(values)}; empty ${mbList(empty)}${note}`,
    });
    const processNote = (ours: Samples, theirs: Sample) =>
      `; ${round(ours.median() / 1000, 1)} s, CPU ${round(ours.median("cpuMs"))} ms; kubectl ` +
      `the same way: ${round(theirs.peakMb, 1)} MB, ${round(theirs.ms / 1000, 1)} s`;
    const peaksOf = (samples: Samples) => samples.all.map((s) => s.peakMb);
    // Each tree's rows against its own empty runs; the --before rows right after this tree's.
    const rows = (which: HookTree): Figure[] => {
      const own = processes[which];
      const { tree: full, empty } = peaks[which];
      const figures = [
        rss(`prepare_job copying ${HUGE.label} in`, full.prepare, empty.prepare),
        rss(
          `cleanup_job copying ${HUGE.label} back (COPY_BACK=all)`,
          full.cleanup,
          empty.cleanup,
        ),
        rss(
          `copyToPod process, ${HUGE.label}`,
          peaksOf(own.toPod),
          peaksOf(own.toPodEmpty),
          processNote(own.toPod, kubectlIn),
        ),
        rss(
          `copyFromPod process, ${HUGE.label}`,
          peaksOf(own.fromPod),
          peaksOf(own.fromPodEmpty),
          processNote(own.fromPod, kubectlBack),
        ),
      ];
      return which === "this"
        ? figures
        : figures.map((f) => ({ ...f, name: `${f.name} (--before)` }));
    };
    const ours = rows("this");
    const theirs = this.#before ? rows("before") : [];
    return [
      ...ours.flatMap((figure, k) => theirs[k] ? [figure, theirs[k]] : [figure]),
      rss(
        `copyFromPod process, ${HUGE.label}, without the V8 flags of scripts/hook.sh`,
        peaksOf(fromPodNoFlags),
        peaksOf(processes.this.fromPodEmpty),
        processNote(fromPodNoFlags, kubectlBack),
      ),
    ];
  }

  // ---- helpers ----

  /** `figure`, and with --before the same figure as that tree measured it (`before` gives its
   * value and note). */
  #withBefore(figure: Figure, before: () => [number, string?]): Figure[] {
    return this.#before ? [figure, beforeFigure(figure, ...before())] : [figure];
  }

  async #sim(runnerPod: string, env: Record<string, string>): Promise<BenchSim> {
    const dir = `${this.#dir}/${runnerPod}`;
    await Deno.mkdir(dir, { recursive: true });
    // The hook under GNU time, each call's peak RSS appended to the report; this tree's, or the
    // --before tree's after `hook.use("before")`.
    const hook = await measuredHook(dir, this.#before);
    const report = hook.report;
    const sim = await RunnerSim.create({
      hook: hook.wrapper,
      work: `${dir}/_work`,
      env: {
        KUBECONFIG: this.#cluster.kubeconfig,
        KUBEHOOK_CONTEXT: "runner",
        ACTIONS_RUNNER_POD_NAME: runnerPod,
        ACTIONS_RUNNER_IMAGE: "ghcr.io/actions/actions-runner:latest",
        // The bench copies into the job pods beside the hook; none of that comes back.
        KUBEHOOK_COPY_BACK: "none",
        ...env,
      },
    });
    this.#sims.push(sim);
    return { sim, report, hook };
  }

  async #startBenchPod(): Promise<void> {
    await this.#admin.create<V1Pod>(podsPath(this.#namespace), {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: BENCH_POD },
      // `/__w` is an emptyDir, as in kubehook's job pods (src/pod/job_pod.ts).
      spec: {
        volumes: [{ name: "work", emptyDir: {} }],
        containers: [{
          name: CONTAINER,
          image: "debian:12",
          command: ["sleep", "3600"],
          volumeMounts: [{ name: "work", mountPath: "/__w" }],
        }],
      },
    });
    const signal = AbortSignal.timeout(POD_START_MS);
    try {
      const events = this.#admin.watch<V1Pod>(podsPath(this.#namespace), {}, signal);
      for await (const { object } of events) {
        if (object.metadata?.name === BENCH_POD && object.status?.phase === "Running") return;
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    }
    throw new Error(`the bench pod did not run within ${POD_START_MS / 1000} s`);
  }

  /** `kubectl exec [flags] POD -c job --` with the cluster's kubeconfig and the runner's
   * context (the hooks' own), as shell words. */
  #kubectl(pod: string, ...flags: string[]): string {
    const config = ["--kubeconfig", this.#cluster.kubeconfig, "--context", "runner"];
    return ["kubectl", ...config, "exec", ...flags, pod, "-c", CONTAINER, "--"].join(" ");
  }

  async #podSh(pod: string, script: string): Promise<void> {
    const out = await new Deno.Command("sh", {
      args: ["-c", `${this.#kubectl(pod)} sh -c '${script}'`],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`${script} in ${pod} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
  }

  /** The copy process of `tree`, run with the V8 flags that tree's scripts/hook.sh gives Deno
   * (`flags` false: without them). */
  #copyProcess(
    direction: string,
    pod: string,
    hostDir: string,
    podDir: string,
    tree: HookTree = "this",
    flags = true,
  ): string[] {
    const root = tree === "this" ? ROOT : this.#before!;
    const v8 = flags ? hookV8Flags(root) : [];
    return [
      ...[Deno.execPath(), "run", "-A", "--quiet", "--no-lock", ...v8],
      ...["--config", `${root}/deno.json`, `${root}/bench/copy_process.ts`],
      ...[direction, this.#cluster.kubeconfig, "runner", pod, CONTAINER, hostDir, podDir],
    ];
  }

  /** Runs `command` under GNU time: its wall time, its CPU (with its children's: the tars), its
   * peak RSS, and the CPU the cluster process spent meanwhile (the API server, and the pod's
   * processes it started and reaped). Throws when the command fails. */
  async #sample(command: string[], env?: Record<string, string>): Promise<Sample> {
    const report = `${this.#dir}/time.txt`;
    const clusterBefore = await cpuMsOf(this.#cluster.pid);
    const started = performance.now();
    const output = await new Deno.Command(GNU_TIME, {
      args: ["-f", "%U %S %M", "-o", report, ...command],
      env,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    const ms = performance.now() - started;
    const clusterCpuMs = await cpuMsOf(this.#cluster.pid) - clusterBefore;
    if (!output.success) {
      throw new Error(
        `${command.join(" ")} exited with ${output.code}: ${
          new TextDecoder().decode(output.stderr)
        }`,
      );
    }
    const [user, system, kib] = (await Deno.readTextFile(report)).trim().split("\n").at(-1)!
      .split(" ").map(Number);
    return { ms, cpuMs: (user + system) * 1000, clusterCpuMs, peakMb: kib / 1024 };
  }

  /** {@link #sample} of `command`, counted as `what` (see {@link #counted}) when it is this
   * tree's. */
  #sampleOf(which: HookTree, what: string, command: string[]): Promise<Sample> {
    return which === "this"
      ? this.#counted(what, () => this.#sample(command))
      : this.#sample(command);
  }

  /** Runs `fn` with the cluster's counts reset before, and keeps its counts as `what`'s. */
  async #counted<T>(what: string, fn: () => Promise<T>): Promise<T> {
    await this.#admin.request("DELETE", "/_cluster/stats");
    const result = await fn();
    this.#stats[what] = await this.#admin.request<StatsSnapshot>("GET", "/_cluster/stats");
    return result;
  }
}

interface BenchSim {
  sim: RunnerSim;
  /** GNU time's report of the hook's peak RSS, one line per call. */
  report: string;
  /** Switches the sim's hook between this tree's and the --before tree's. */
  hook: MeasuredHook;
}

/** The `--v8-flags=...` arguments the scripts/hook.sh under `root` gives `deno run`. */
function hookV8Flags(root: string): string[] {
  const script = Deno.readTextFileSync(`${root}/scripts/hook.sh`);
  return script.match(/--v8-flags=\S+/g) ?? [];
}

/** The entries `chunks` (a whole archive) hold, counted by `Counter`: this tree's counter, or
 * the --before tree's. */
function countWith(
  Counter: new () => { push(chunk: Uint8Array): void; finish(): void; count: ArchiveCount },
  chunks: Uint8Array[],
): ArchiveCount {
  const counter = new Counter();
  for (const chunk of chunks) counter.push(chunk);
  counter.finish();
  return counter.count;
}

function jobPodOf(sim: RunnerSim): string {
  const pod = sim.state?.jobPod;
  if (typeof pod !== "string") throw new Error("prepare_job's state names no job pod");
  return pod;
}

/** `text` as one single-quoted shell word. */
function shellWord(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** User and system CPU of a process and of the children it reaped, from /proc (clock ticks of
 * 10 ms, USER_HZ on Linux). */
async function cpuMsOf(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the command name: utime, stime, cutime, cstime are the 12th to 15th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields.slice(11, 15).reduce((sum, ticks) => sum + Number(ticks), 0) * 10;
}

/** One figure per counted call: its API requests, with its exec sessions in the unit. */
function requestFigures(stats: Record<string, StatsSnapshot>): Figure[] {
  return Object.entries(stats).map(([what, s]) => ({
    name: `API requests: ${what}`,
    value: s.total,
    unit: `(${s.execSessions} exec)`,
    note: Object.entries(s.requests).map(([key, n]) => `${key} ${n}`).join(", "),
  }));
}

function listMs(samples: number[]): string {
  return samples.map((ms) => round(ms)).join(", ") + " ms";
}

/** `spec.files` files of `spec.fileBytes` (half random, half text, like a checkout; each one
 * different), 100 to a directory. */
export async function makeTree(root: string, spec: TreeSpec): Promise<string> {
  const template = new Uint8Array(spec.fileBytes);
  crypto.getRandomValues(template.subarray(0, Math.min(65536, spec.fileBytes >> 1)));
  for (let i = spec.fileBytes >> 1; i < spec.fileBytes; i++) template[i] = 97 + (i % 26);
  const stamp = new DataView(template.buffer);
  for (let f = 0; f < spec.files; f++) {
    const dir = `${root}/d${Math.floor(f / 100)}`;
    if (f % 100 === 0) await Deno.mkdir(dir, { recursive: true });
    if (spec.fileBytes >= 4) stamp.setUint32(0, f);
    await Deno.writeFile(`${dir}/f${f % 100}`, template);
  }
  return root;
}

/** A directory in /dev/shm when it and the memory have `room` bytes to spare, else in TMPDIR. */
async function benchDir(room: number): Promise<{ dir: string; inMemory: boolean }> {
  const shmFree = await new Deno.Command("df", {
    args: ["-B1", "--output=avail", "/dev/shm"],
    stdout: "piped",
    stderr: "null",
  }).output().then((o) => Number(new TextDecoder().decode(o.stdout).split("\n")[1]), () => 0);
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const available = Number(meminfo.match(/^MemAvailable:\s+(\d+) kB$/m)?.[1] ?? 0) * 1024;
  // The memory also holds the cluster, the pods and the processes: 2 GiB more than the trees.
  if (shmFree >= room && available >= room + 2 * GIB) {
    try {
      const dir = await Deno.makeTempDir({ dir: "/dev/shm", prefix: "kubehook-bench-copy-" });
      return { dir, inMemory: true };
    } catch {
      // Not writable: the disk, then.
    }
  }
  return { dir: await Deno.makeTempDir({ prefix: "kubehook-bench-copy-" }), inMemory: false };
}

if (import.meta.main) {
  const { formatTable } = await import("./figure.ts");
  const figures = await run({ large: Deno.args.includes("--large") });
  console.log(formatTable([{ section: "copy", figures }]));
}
