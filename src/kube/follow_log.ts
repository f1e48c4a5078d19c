/**
 * Follows a container's log to its end, every line exactly once, across broken connections: the
 * log is read with `timestamps=true`, and after a connection breaks it is asked for again from
 * the second of the last line shown, dropping what was already shown (log_lines.ts). A last line
 * without a newline is shown only once the container has stopped (before that it may still grow).
 *
 * @example
 * ```ts
 * await followLog(client, {
 *   namespace: "ci", pod: "arc-x-workflow", container: "step-ab12cd34", signal,
 *   output: (bytes) => Deno.stdout.write(bytes).then(() => {}),
 *   stopped: async () => true, log: console.error,
 * });
 * ```
 * @module
 */
import type { KubeClient } from "./client.ts";
import { type LogLine, LogLineSplitter, LogResume } from "./log_lines.ts";
import { podSubresourcePath } from "./paths.ts";

/** What to follow and where the lines go. */
export interface FollowLogOptions {
  namespace: string;
  pod: string;
  container: string;
  signal: AbortSignal;
  /** Receives the log's lines, in order, each once. */
  output: (bytes: Uint8Array) => Promise<void>;
  /** Whether the container has stopped (asked when a connection ends: then the log is complete). */
  stopped: () => Promise<boolean>;
  /** kubehook's own notes (a broken connection, resuming). */
  log: (line: string) => void;
}

const MAX_RECONNECTS = 20;
const NEWLINE = 10;

/** Resolves once the container stopped and its whole log was shown; rejects when the log cannot
 * be read (the container or pod is gone) or after too many broken connections. */
export async function followLog(client: KubeClient, options: FollowLogOptions): Promise<void> {
  const { namespace, pod, container, signal } = options;
  const resume = new LogResume();
  for (let attempt = 0; attempt <= MAX_RECONNECTS; attempt++) {
    let tail: LogLine | undefined;
    let broke: string | undefined;
    try {
      const body = await client.stream(podSubresourcePath(namespace, pod, "log"), {
        query: { container, follow: true, timestamps: true, sinceTime: resume.since() },
        signal,
      });
      // The pipe is tied to the signal as well: a fetch body aborted while a pipe waits on it does
      // not always pass the abort on (Deno 2.9.6, 1 pipe in 30), and the hook then ignored the
      // runner's cancel for as long as the step ran.
      for await (const line of body.pipeThrough(new LogLineSplitter(), { signal })) {
        if (line.text.at(-1) !== NEWLINE && !line.partial) {
          tail = line;
          continue;
        }
        if (line.time && !resume.take(line.time)) continue;
        await options.output(line.text);
      }
    } catch (error) {
      if (signal.aborted) throw error;
      broke = error instanceof Error ? error.message : String(error);
    }
    if (broke === undefined && await options.stopped()) {
      if (tail && (!tail.time || resume.take(tail.time))) await options.output(tail.text);
      return;
    }
    options.log(
      `::warning::kubehook: the log connection of container "${container}" in pod "${pod}" ` +
        `${broke ? `broke (${broke})` : "ended while the container runs"}; resuming it from ` +
        `${resume.since() ?? "its start"}.`,
    );
    resume.reconnect();
    await new Promise((resolve) => setTimeout(resolve, Math.min(200 * 2 ** attempt, 5_000)));
  }
  throw new Error(
    `kubehook lost the log connection of container "${container}" in pod "${pod}" ` +
      `(namespace "${namespace}") ${MAX_RECONNECTS} times and gave up. Check the network path to ` +
      "the API server (proxies and load balancers that cut long requests).",
  );
}
