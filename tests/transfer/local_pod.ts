/**
 * Runs a pod-side transfer fragment on this machine, with the tools a pod would have: the host's
 * GNU userland, or busybox alone (every applet linked into a private PATH, `busybox sh` as the
 * shell). This is how the fragments are tested without a cluster.
 *
 * @module
 */

export type Flavor = "gnu" | "busybox";

export interface LocalPod extends AsyncDisposable {
  /** Starts `sh -c script`; stdin is fed from `input` when given. */
  run(script: string, input?: ReadableStream<Uint8Array>): LocalRun;
}

export interface LocalRun {
  stdout: ReadableStream<Uint8Array>;
  /** Resolves with the exit code and all of stderr once the script has ended. */
  done: Promise<{ code: number; stderr: string }>;
}

/** A "pod" of the given flavor; disposing it removes the busybox applet directory. */
export async function localPod(flavor: Flavor): Promise<LocalPod> {
  let bin: string | undefined;
  if (flavor === "busybox") {
    bin = await Deno.makeTempDir({ prefix: "kubehook-busybox-" });
    const out = await new Deno.Command("busybox", { args: ["--install", "-s", bin] }).output();
    if (!out.success) throw new Error("busybox --install failed");
  }
  return {
    run(script, input) {
      const command = bin
        ? new Deno.Command(`${bin}/sh`, {
          args: ["-c", script],
          env: { PATH: bin },
          clearEnv: true,
          stdin: input ? "piped" : "null",
          stdout: "piped",
          stderr: "piped",
        })
        : new Deno.Command("sh", {
          args: ["-c", script],
          stdin: input ? "piped" : "null",
          stdout: "piped",
          stderr: "piped",
        });
      const child = command.spawn();
      const feeding = input ? input.pipeTo(child.stdin).catch(() => {}) : Promise.resolve();
      const stderr = new Response(child.stderr).text();
      const done = Promise.all([child.status, stderr, feeding]).then(([status, text]) => ({
        code: status.code,
        stderr: text,
      }));
      return { stdout: child.stdout, done };
    },
    async [Symbol.asyncDispose]() {
      if (bin) await Deno.remove(bin, { recursive: true });
    },
  };
}
