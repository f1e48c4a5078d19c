/**
 * A network namespace held open by a tiny process: `unshare --net` runs a setup script, says
 * `ready`, then waits on a pipe from the kubelet (`cat`), so the namespace ends when the kubelet
 * closes the pipe or dies. Pod sandboxes and the node's pod network are both made this way.
 *
 * @module
 */
import type { HostTools } from "./host_tools.ts";

/** Starts the holder; `setup` runs inside the new namespace first. Throws `what` and the
 * script's error when it fails. */
export async function holdNetworkNamespace(
  tools: HostTools,
  setup: string,
  what: string,
): Promise<Deno.ChildProcess> {
  const holder = new Deno.Command(tools.unshare, {
    args: [
      "--net",
      "--",
      tools.sh,
      "-c",
      `${setup} && echo ready && exec ${tools.busybox} cat >/dev/null`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    detached: true,
    clearEnv: true,
  }).spawn();
  const ready = await new Response(holder.stdout).text();
  if (ready.trim() !== "ready") {
    holder.stdin.close();
    const { stderr } = await holder.output().catch(() => ({ stderr: new Uint8Array() }));
    throw new Error(
      `Cannot create ${what}: ${
        new TextDecoder().decode(stderr).trim() || "unshare --net failed"
      }. The local cluster must run as root, with iproute2's ip.`,
    );
  }
  return holder;
}

/** Ends the namespace: closes the holder's pipe and waits for it. */
export async function releaseNetworkNamespace(holder: Deno.ChildProcess): Promise<void> {
  await holder.stdin.close().catch(() => {});
  await holder.stderr.cancel().catch(() => {});
  await holder.status;
}
