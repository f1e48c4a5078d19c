/**
 * What a real node leaves on the host, and its removal: its cgroup root (in every hierarchy) and
 * the host's end of its veth, at stop; and, for a node whose owner died without stopping it (a
 * test process killed), at the next start. Every node is recorded in
 * `/run/kubehook-realcluster/<id>.json` (a tmpfs, as cgroups are: both end at reboot) with its
 * owner's PID; a start sweeps the records whose owner is gone. The node's processes die with
 * their owner by themselves (node.ts: the start script reads its owner's pipe).
 *
 * @module
 */

const RECORDS = "/run/kubehook-realcluster";

/** What a start sweeps for a node whose owner is gone. */
export interface NodeRecord {
  id: string;
  cgroup: string;
  /** Removed too when the owner made it (a temporary state directory). */
  stateDir?: string;
}

interface Stored extends NodeRecord {
  owner: { pid: number; started: string };
}

/** The start time of process `pid` (field 22 of its stat), to tell it from a reused PID. */
function startTime(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Records a starting node as this process's; the result forgets it (after a clean stop). */
export async function recordNode(record: NodeRecord): Promise<() => Promise<void>> {
  await Deno.mkdir(RECORDS, { recursive: true });
  const path = `${RECORDS}/${record.id}.json`;
  const stored: Stored = { ...record, owner: { pid: Deno.pid, started: startTime(Deno.pid)! } };
  await Deno.writeTextFile(path, JSON.stringify(stored));
  return () => Deno.remove(path).catch(() => {});
}

/** Removes what nodes whose owner is gone left: their cgroups, temporary state directories and
 * records. A node whose cgroups are still busy (its processes still dying) is left for the next
 * sweep. */
export async function sweepAbandonedNodes(): Promise<void> {
  const entries = await Array.fromAsync(Deno.readDir(RECORDS)).catch(() => []);
  for (const entry of entries) {
    const path = `${RECORDS}/${entry.name}`;
    const stored = await Deno.readTextFile(path).then((t) => JSON.parse(t) as Stored, () => null);
    if (!stored || startTime(stored.owner.pid) === stored.owner.started) continue;
    if (await removeCgroups(stored.cgroup, 20) > 0) continue;
    if (stored.stateDir) await Deno.remove(stored.stateDir, { recursive: true }).catch(() => {});
    await Deno.remove(path).catch(() => {});
  }
}

/** After a stop: removes the node's cgroups once its processes are gone (they die with the PID
 * namespace, a moment after it ends), and waits for the kernel to destroy the veth with the
 * network namespace. */
export async function removeNodeTraces(cgroup: string, veth: string): Promise<void> {
  const left = await removeCgroups(cgroup, 600);
  if (left > 0) {
    throw new Error(
      `The real-Kubernetes node stopped, but ${left} of its cgroups under ${cgroup} stay busy ` +
        `after 30 s. Remove them with: for h in /sys/fs/cgroup/*/; do find "$h${cgroup}" ` +
        "-depth -type d -exec rmdir {} \\;; done",
    );
  }
  await vethGone(veth);
}

/** Waits until the host's end of the veth is gone, deleting it after 10 s. */
async function vethGone(veth: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (!await Deno.stat(`/sys/class/net/${veth}`).then(() => true, () => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await new Deno.Command("ip", { args: ["link", "delete", veth], stderr: "null" }).output();
}

/** Removes the cgroup root `name` from every hierarchy, deepest first, trying `attempts` times
 * 50 ms apart while some are busy; resolves with how many directories are left. */
async function removeCgroups(name: string, attempts: number): Promise<number> {
  const roots: string[] = [];
  for await (const entry of Deno.readDir("/sys/fs/cgroup")) {
    if (entry.isDirectory) roots.push(`/sys/fs/cgroup/${entry.name}/${name}`);
  }
  let left = 0;
  for (let attempt = 0; attempt < attempts; attempt++) {
    left = 0;
    for (const root of roots) left += await removeTree(root);
    if (left === 0) return 0;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return left;
}

/** Removes a cgroup directory tree; resolves with how many directories are left. */
async function removeTree(dir: string): Promise<number> {
  let left = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) left += await removeTree(`${dir}/${entry.name}`);
    }
    await Deno.remove(dir);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) left++;
  }
  return left;
}
