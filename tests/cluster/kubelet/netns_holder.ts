/**
 * A network namespace held open by a tiny process: `unshare --net` runs a setup script, says
 * `ready`, then waits on a pipe from the kubelet (`cat`), so the namespace ends when the kubelet
 * closes the pipe or dies. Pod sandboxes and the node's pod network are both made this way.
 *
 * @module
 */
import type { HostTools } from "./host_tools.ts";

/** Starts the holder; `setup` runs inside the new namespace first. `alongside`, a command, then
 * runs in the background as long as the holder (a server of the namespace); it is killed when
 * the pipe closes. Throws `what` and the script's error when it fails. */
export async function holdNetworkNamespace(
  tools: HostTools,
  setup: string,
  what: string,
  alongside?: string,
): Promise<Deno.ChildProcess> {
  const wait = `${tools.busybox} cat >/dev/null`;
  const holder = new Deno.Command(tools.unshare, {
    args: [
      "--net",
      "--",
      tools.sh,
      "-c",
      alongside
        ? `${setup} || exit 1; ${alongside} </dev/null >/dev/null 2>&1 & a=$!; echo ready; ` +
          `exec >/dev/null; ${wait}; kill $a`
        : `${setup} && echo ready && exec ${wait}`,
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
