/**
 * Runs a pod-side transfer fragment on this machine, with the tools a pod would have: the host's
 * GNU userland, or busybox alone (every applet linked into a private PATH, `busybox sh` as the
 * shell). This is how the fragments are tested without a cluster; {@link sendToPod} and
 * {@link bringBack} run the host's side of a transfer against it.
 *
 * @module
 */
import { gunzipStream } from "../../src/transfer/compression.ts";
import { sendArchive } from "../../src/transfer/send_archive.ts";
import { type ExtractOptions, extractTar } from "../../src/transfer/extract.ts";
import { packHostTree } from "../../src/transfer/host_pack.ts";
import { podExtractScript } from "../../src/transfer/pod_scripts.ts";
import { extractReceiptProblem, parseReceipt, type SentCount } from "../../src/transfer/receipt.ts";

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

/** Runs `fn` with fresh `host`, `pod` (its `/__w`, not created) and `back` directories. */
export async function withDirs(
  fn: (dirs: { host: string; pod: string; back: string }) => Promise<void>,
): Promise<void> {
  const base = await Deno.makeTempDir({ prefix: "kubehook-roundtrip-" });
  try {
    const dirs = { host: `${base}/host`, pod: `${base}/pod/__w`, back: `${base}/back` };
    await Deno.mkdir(dirs.host);
    await Deno.mkdir(dirs.back);
    await fn(dirs);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

/** Sends `host` (all of it, or `paths`) into `pod` through the extract fragment; `expect` makes
 * the fragment check the entry count itself, as a step's upload does. */
export async function sendToPod(
  flavor: Flavor,
  host: string,
  pod: string,
  options: { gzip?: boolean; paths?: string[]; expect?: SentCount } = {},
) {
  await using runner = await localPod(flavor);
  const archive = await packHostTree(host, { paths: options.paths });
  // As copyToPod sends it; the local process's stdin gets copies, since a stream would hold on to
  // chunks of the archive's reused buffer.
  const copies = new TransformStream<Uint8Array, Uint8Array>({
    transform: (chunk, controller) => controller.enqueue(chunk.slice()),
  });
  const sent = sendArchive(archive, copies.writable, { gzip: options.gzip ?? false });
  const script = podExtractScript(pod, { gzip: options.gzip ?? false, expect: options.expect });
  const run = runner.run(script, copies.readable);
  await run.stdout.cancel();
  const [{ code, stderr }] = await Promise.all([run.done, archive.done, sent.done.catch(() => {})]);
  const { receipt, messages } = parseReceipt(stderr);
  return { code, messages, problem: extractReceiptProblem(receipt, sent.count), count: sent.count };
}

/** Runs the pack fragment in `pod` and extracts its output into `back`. */
export async function bringBack(
  flavor: Flavor,
  script: string,
  back: string,
  gzip: boolean,
  options: ExtractOptions = {},
) {
  await using runner = await localPod(flavor);
  const run = runner.run(script);
  const stream = gzip ? run.stdout.pipeThrough(gunzipStream()) : run.stdout;
  const [report, { code, stderr }] = await Promise.all([
    extractTar(stream, back, options),
    run.done,
  ]);
  return { report, code, ...parseReceipt(stderr) };
}
