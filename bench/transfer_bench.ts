/**
 * Workspace transfer figures (issue 5), each against a floor measured in the same run:
 * - host → pod copy through the local cluster's exec WebSocket (`copyToPod`) of 200 MB in 5,000
 *   files and of 20,000 small files, against a local `tar c | tar x` of the same tree (goal ≤ 1.5×),
 *   and against the same tar pipe through one TLS connection on loopback (tls_pipe.ts): the part
 *   of the gap that any HTTPS transport pays on this machine;
 * - the same copy with gzip, and `CompressionStream` throughput (for the `auto` rule);
 * - pod → host copy of the 20,000 files into the safe extractor;
 * - change detection on an unchanged 20,000-file workspace (goal ≤ 150 ms).
 *
 * Trees live in /dev/shm when it is writable, so the figures measure the transfer path and not the
 * disk (on this machine's virtual disk, extracting 20,000 files varies from 1.5 s to 14 s).
 *
 * Run alone: `deno run -A bench/transfer_bench.ts`; `deno task bench` calls {@link run}. With
 * `KUBEHOOK_BENCH_KUBECONFIG=FILE` the copies go to a real cluster instead of the local one (the
 * e2e workflow runs it against kind): the bench pod is created in the kubeconfig's namespace and
 * deleted at the end.
 *
 * @module
 */
import { startClusterProcess } from "./cluster_process.ts";
import type { V1Pod } from "@kubernetes/client-node";
import { KubeClient } from "../src/kube/client.ts";
import { loadKubeAccess } from "../src/kube/config.ts";
import { execIn, openExec } from "../src/kube/exec.ts";
import { podsPath } from "../src/kube/paths.ts";
import { gzipStream } from "../src/transfer/compression.ts";
import { copyFromPod, copyToPod, type PodTarget } from "../src/transfer/copy.ts";
import { listHostChanges, syncMarkNow } from "../src/transfer/host_changes.ts";
import { packHostTree } from "../src/transfer/host_pack.ts";
import { startTlsPipe } from "./tls_pipe.ts";

/** One measured figure. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** The goal, when the issue sets one. */
  goal?: string;
}

const REPEAT = 3;

export async function run(): Promise<Figure[]> {
  const base = await benchDir();
  const figures: Figure[] = [];
  const external = Deno.env.get("KUBEHOOK_BENCH_KUBECONFIG");
  await using cluster = external ? undefined : await startClusterProcess(base);
  const access = await loadKubeAccess({ KUBECONFIG: external ?? cluster!.kubeconfig });
  const client = new KubeClient(access);
  const pod: PodTarget = { namespace: access.namespace, pod: "bench", container: "job" };
  await Deno.mkdir(`${base}/tls`);
  await using tlsPipe = await startTlsPipe(`${base}/tls`);
  try {
    await startPod(client, pod);
    const trees = {
      "200 MB in 5,000 files": await makeTree(`${base}/big`, 50, 100, 40 * 1024),
      "20,000 small files": await makeTree(`${base}/small`, 200, 100, 300),
    };
    for (const [label, dir] of Object.entries(trees)) {
      const floor = await median(async () => {
        await sh("rm -rf dst && mkdir dst", base);
        return await timed(() => sh(`tar -c -f - -C ${dir} . | tar -x -f - -C dst`, base));
      });
      const tlsPipeMs = await median(async () => {
        await sh("rm -rf dst && mkdir dst", base);
        return await timed(() => tlsPipe.copy(dir, `${base}/dst`));
      });
      const copy = async (gzip: boolean) =>
        await median(async () => {
          await exec(client, pod, "rm -rf /__w/bench");
          return await timed(() =>
            copyToPod(execIn(client), pod, { hostPath: dir, podPath: "/__w/bench", gzip })
          );
        });
      // The same archive into `cat >/dev/null`: what the exec connection alone costs (the
      // cluster's TLS, WebSocket decoding and pipe into the pod, and the client's sending).
      const transport = await median(() =>
        timed(() => packInto(client, pod, dir, "cat >/dev/null"))
      );
      const plain = await copy(false);
      const gzip = await copy(true);
      figures.push(
        { name: `local tar c | tar x, ${label}`, value: ms(floor), unit: "ms" },
        {
          name: `the same through one TLS connection on loopback, ${label}`,
          value: ms(tlsPipeMs),
          unit: "ms",
        },
        {
          name: `exec transport only (tar c → cat in the pod), ${label}`,
          value: ms(transport),
          unit: "ms",
        },
        { name: `host → pod copy, ${label}`, value: ms(plain), unit: "ms" },
        {
          name: `host → pod copy ÷ floor, ${label}`,
          value: ratio(plain, floor),
          unit: "×",
          goal: "≤ 1.5",
        },
        {
          name: `host → pod copy ÷ the same through TLS, ${label}`,
          value: ratio(plain, tlsPipeMs),
          unit: "×",
        },
        { name: `host → pod copy with gzip, ${label}`, value: ms(gzip), unit: "ms" },
        {
          name: `CompressionStream gzip, ${label}`,
          value: await gzipRate(dir),
          unit: "MB/s",
        },
      );
    }
    const back = `${base}/back`;
    const copyBack = await median(async () => {
      await Deno.remove(back, { recursive: true }).catch(() => {});
      await Deno.mkdir(back);
      return await timed(() =>
        copyFromPod(execIn(client), pod, { hostPath: back, podPath: "/__w/bench", gzip: false })
      );
    });
    figures.push({
      name: "pod → host copy (safe extractor), 20,000 small files",
      value: ms(copyBack),
      unit: "ms",
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const mark = await syncMarkNow();
    const detect = await median(() =>
      timed(() => listHostChanges(trees["20,000 small files"], mark))
    );
    figures.push({
      name: "change detection, unchanged 20,000-file workspace",
      value: ms(detect),
      unit: "ms",
      goal: "≤ 150",
    });
  } finally {
    if (external) await client.delete(podsPath(pod.namespace, pod.pod)).catch(() => {});
    client.close();
    await cluster?.stop();
    await Deno.remove(base, { recursive: true });
  }
  for (const f of figures) {
    console.log(`${f.name}: ${f.value} ${f.unit}${f.goal ? ` (goal ${f.goal})` : ""}`);
  }
  return figures;
}

async function benchDir(): Promise<string> {
  try {
    return await Deno.makeTempDir({ dir: "/dev/shm", prefix: "kubehook-bench-" });
  } catch {
    return await Deno.makeTempDir({ prefix: "kubehook-bench-" });
  }
}

async function startPod(client: KubeClient, pod: PodTarget): Promise<void> {
  await client.create<V1Pod>(podsPath(pod.namespace), {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: pod.pod },
    // `/__w` is an emptyDir, as in kubehook's job pods (src/pod/job_pod.ts): extracting into the
    // container's overlay root instead took twice as long for 20,000 files.
    spec: {
      volumes: [{ name: "work", emptyDir: {} }],
      containers: [{
        name: pod.container,
        image: "debian:12",
        command: ["sleep", "3600"],
        volumeMounts: [{ name: "work", mountPath: "/__w" }],
      }],
    },
  });
  for await (const event of client.watch<V1Pod>(podsPath(pod.namespace))) {
    if (event.object.metadata?.name === pod.pod && event.object.status?.phase === "Running") return;
  }
}

/** `dirs` × `files` files of about `size` bytes (half random, half text, like a checkout). */
async function makeTree(root: string, dirs: number, files: number, size: number): Promise<string> {
  const random = crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)));
  for (let d = 0; d < dirs; d++) {
    await Deno.mkdir(`${root}/d${d}`, { recursive: true });
    for (let f = 0; f < files; f++) {
      const data = new Uint8Array(size + ((d + f) % 17) * 16);
      data.set(random.subarray(0, Math.min(random.length, data.length >> 1)));
      for (let i = data.length >> 1; i < data.length; i++) data[i] = 97 + ((i + f) % 26);
      await Deno.writeFile(`${root}/d${d}/f${f}`, data);
    }
  }
  return root;
}

async function gzipRate(dir: string): Promise<number> {
  const tar = new Deno.Command("tar", { args: ["-c", "-f", "-", "-C", dir, "."], stdout: "piped" })
    .spawn();
  let bytes = 0;
  const started = performance.now();
  const counted = tar.stdout.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bytes += chunk.length;
        controller.enqueue(chunk);
      },
    }),
  );
  await counted.pipeThrough(gzipStream()).pipeTo(new WritableStream());
  await tar.status;
  return Math.round(bytes / 1e6 / ((performance.now() - started) / 1000));
}

async function sh(script: string, cwd: string): Promise<void> {
  const out = await new Deno.Command("sh", { args: ["-c", script], cwd }).output();
  if (!out.success) throw new Error(`${script} failed: ${new TextDecoder().decode(out.stderr)}`);
}

async function exec(client: KubeClient, pod: PodTarget, script: string): Promise<void> {
  const session = await openExec(client, { ...pod, command: ["sh", "-c", script], stdin: false });
  await Promise.all([session.stdout.cancel(), session.stderr.cancel()]);
  const result = await session.result;
  if (result.kind !== "exited" || result.exitCode !== 0) {
    throw new Error(`${script} failed in the pod`);
  }
}

/** Streams a host tar of `dir` into `script` in the pod. */
async function packInto(client: KubeClient, pod: PodTarget, dir: string, script: string) {
  const archive = await packHostTree(dir);
  const session = await openExec(client, { ...pod, command: ["sh", "-c", script], stdin: true });
  await Promise.all([
    archive.stream.pipeTo(session.stdin!),
    session.stdout.cancel(),
    session.stderr.cancel(),
    session.result,
    archive.done,
  ]);
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

async function median(fn: () => Promise<number>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < REPEAT; i++) samples.push(await fn());
  return samples.sort((a, b) => a - b)[Math.floor(REPEAT / 2)];
}

function ms(value: number): number {
  return Math.round(value);
}

function ratio(a: number, b: number): number {
  return Math.round((a / b) * 100) / 100;
}

if (import.meta.main) await run();
