/**
 * What a stopped real cluster may have left on the host, for the tests that prove it leaves
 * nothing: a mount or a process that names its state directory, its cgroup root in any
 * hierarchy, the host's end of its veth, the state directory itself.
 *
 * @module
 */

/** Where a real cluster shows on the host. */
export interface ClusterTraces {
  stateDir: string;
  node: { cgroup: string; veth: string };
}

/** Describes each trace of the cluster still present; empty when it is all gone. */
export async function leftovers(cluster: ClusterTraces): Promise<string[]> {
  const { stateDir, node } = cluster;
  const found: string[] = [];
  const mounts = await Deno.readTextFile("/proc/self/mountinfo");
  if (mounts.includes(stateDir)) found.push(`a mount under ${stateDir}`);
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
    if (cmdline.includes(stateDir)) {
      found.push(`process ${entry.name}: ${cmdline.replaceAll("\0", " ").slice(0, 100)}`);
    }
  }
  for await (const hierarchy of Deno.readDir("/sys/fs/cgroup")) {
    const path = `/sys/fs/cgroup/${hierarchy.name}/${node.cgroup}`;
    if (hierarchy.isDirectory && await exists(path)) found.push(`cgroup ${path}`);
  }
  if (await exists(`/sys/class/net/${node.veth}`)) found.push(`veth ${node.veth}`);
  if (await exists(stateDir)) found.push(`directory ${stateDir}`);
  return found;
}

function exists(path: string): Promise<boolean> {
  return Deno.stat(path).then(() => true, () => false);
}
