/**
 * The local cluster in a process of its own (`deno task cluster`), as an API server is: benches
 * that measure the cluster's memory, or a transfer through it, must not share the bench's own
 * thread with it (in-process, the API server's TLS and WebSocket work slowed a 200 MB copy 1.8×).
 * With `--real` (bench/main.ts), the real tier's process: `pid` is then its front door's, not the
 * API server's.
 *
 * @module
 */

import { testTier } from "../tests/cluster/harness.ts";

const CLUSTER_MAIN = new URL("../tests/cluster/main.ts", import.meta.url).pathname;

/** A running cluster process; `await using` stops it. */
export interface ClusterProcess extends AsyncDisposable {
  kubeconfig: string;
  pid: number;
  /** SIGTERM, then waits for the exit; throws when the cluster did not stop cleanly. */
  stop(): Promise<void>;
}

/** Starts the cluster with its kubeconfig and state under `dir`; resolves at `cluster ready`. */
export async function startClusterProcess(dir: string): Promise<ClusterProcess> {
  const kubeconfig = `${dir}/kubeconfig`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      CLUSTER_MAIN,
      ...(testTier() === "real" ? ["--real"] : []),
      "--kubeconfig",
      kubeconfig,
      "--state-dir",
      `${dir}/state`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const ready = Promise.withResolvers<void>();
  // Read to the end, so the cluster never writes into a full pipe.
  const drained = (async () => {
    let text = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (text.includes("cluster ready: ")) ready.resolve();
    }
    ready.reject(new Error(`the local cluster exited before it was ready; it printed: ${text}`));
  })();
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      child.kill("SIGTERM");
      const status = await child.status;
      await drained;
      if (!status.success) throw new Error(`the local cluster exited with ${status.code}`);
    })();
  try {
    await ready.promise;
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
  return { kubeconfig, pid: child.pid, stop, [Symbol.asyncDispose]: stop };
}
