/**
 * The local cluster itself (issue 3): start-up of `deno task cluster` to its `cluster ready`
 * line, its resident memory when idle (goal < 120 MB), and {@link PODS} pods running at once on
 * this machine — time from the first create to all Ready, the cluster's memory then, and what the
 * pods' own processes (bwrap sandboxes) hold.
 *
 * The cluster runs as its own process, as users run it, so /proc shows its memory alone.
 *
 * Run alone: `deno run -A bench/cluster_bench.ts`.
 *
 * @module
 */
import { startClusterProcess } from "./cluster_process.ts";
import type { V1Pod } from "@kubernetes/client-node";
import { KubeClient } from "../src/kube/client.ts";
import { loadKubeAccess } from "../src/kube/config.ts";
import { podsPath } from "../src/kube/paths.ts";
import type { Figure } from "./figure.ts";
import { descendants, residentMb, round } from "./measure.ts";

/** Pods started at once (issue 3: "20 pods running at once on a 2-core machine"). */
const PODS = 20;
/** How long the fresh cluster sits before its idle memory is read. */
const IDLE_MS = 1000;
const LABEL = "kubehook-bench=cluster";

export async function run(): Promise<Figure[]> {
  const dir = await Deno.makeTempDir({ prefix: "kubehook-bench-cluster-" });
  const started = performance.now();
  const cluster = await startClusterProcess(dir).catch(async (error) => {
    await Deno.remove(dir, { recursive: true });
    throw error;
  });
  try {
    const startupMs = performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const idleMb = await residentMb(cluster.pid);
    const client = new KubeClient(await loadKubeAccess({ KUBECONFIG: cluster.kubeconfig }));
    try {
      const podsStarted = performance.now();
      await startPods(client);
      const readyMs = performance.now() - podsStarted;
      const busyMb = await residentMb(cluster.pid);
      const podsMb = await sumResidentMb(await descendants(cluster.pid));
      await client.request("DELETE", podsPath(client.access.namespace), {
        query: { labelSelector: LABEL, gracePeriodSeconds: 0 },
      });
      return [
        {
          name: "start-up to `cluster ready`",
          value: round(startupMs),
          unit: "ms",
          goal: "< 2000",
        },
        {
          name: "idle RSS of the cluster process",
          value: round(idleMb, 1),
          unit: "MB",
          goal: "< 120",
        },
        {
          name: `${PODS} pods: time from first create to all Ready`,
          value: round(readyMs),
          unit: "ms",
        },
        { name: `${PODS} pods: RSS of the cluster process`, value: round(busyMb, 1), unit: "MB" },
        {
          name: `${PODS} pods: RSS of the pods' processes (sum)`,
          value: round(podsMb, 1),
          unit: "MB",
          note: "bwrap sandboxes and their `sleep`; pages shared between processes count in each",
        },
      ];
    } finally {
      client.close();
    }
  } finally {
    await cluster.stop().catch((error) => console.error(`bench: ${error.message}`));
    await Deno.remove(dir, { recursive: true });
  }
}

const isReady = (pod: V1Pod) =>
  pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

/** Creates {@link PODS} pods at once and returns when every one is Ready. */
async function startPods(client: KubeClient): Promise<void> {
  const path = podsPath(client.access.namespace);
  const [key, value] = LABEL.split("=");
  await Promise.all(Array.from({ length: PODS }, (_, i) =>
    client.create<V1Pod>(path, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: `bench-${i}`, labels: { [key]: value } },
      spec: { containers: [{ name: "main", image: "busybox", command: ["sleep", "3600"] }] },
    })));
  // List, then watch from the list's version; a watch that ends is started again from a list.
  const abort = new AbortController();
  try {
    while (true) {
      const list = await client.list<V1Pod>(path, { labelSelector: LABEL });
      const ready = new Set(list.items.filter(isReady).map((p) => p.metadata!.name!));
      if (ready.size === PODS) return;
      const events = client.watch<V1Pod>(path, {
        labelSelector: LABEL,
        resourceVersion: list.metadata?.resourceVersion,
      }, abort.signal);
      for await (const event of events) {
        const name = event.object.metadata!.name!;
        if (event.type !== "DELETED" && isReady(event.object)) ready.add(name);
        else ready.delete(name);
        if (ready.size === PODS) return;
      }
    }
  } finally {
    abort.abort();
  }
}

async function sumResidentMb(pids: number[]): Promise<number> {
  let sum = 0;
  // A process may end between the listing and the read; it holds no memory then.
  for (const pid of pids) sum += await residentMb(pid).catch(() => 0);
  return sum;
}

if (import.meta.main) {
  const { formatTable } = await import("./figure.ts");
  console.log(formatTable([{ section: "cluster", figures: await run() }]));
}
