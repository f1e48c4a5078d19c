/**
 * Watches every process's command line on the machine while a test runs, for strings that must
 * never be a process argument (secrets): the hook's own helpers (tar, find, kubectl-like calls) and,
 * because both clusters run pods as host processes, whatever kubehook starts in a pod. Sampled, so
 * it can miss a process that lives less than a sampling period; each sample reads all of /proc.
 *
 * @example
 * ```ts
 * const watch = watchArguments(["hunter2"]);
 * // ... run hooks ...
 * const seen = await watch.stop(); // ["1234: sh -c echo hunter2"] when one leaked
 * ```
 * @module
 */

/** A running watch; `stop` ends it and returns each offending command line once. */
export interface ArgumentWatch {
  /** How many times /proc was read: a watch that never sampled proves nothing. */
  samples(): number;
  stop(): Promise<string[]>;
}

const PERIOD_MS = 5;

export function watchArguments(needles: readonly string[]): ArgumentWatch {
  const found = new Set<string>();
  let samples = 0;
  let stopped = false;
  const sample = async () => {
    for await (const entry of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      const raw = await Deno.readFile(`/proc/${entry.name}/cmdline`).catch(() => undefined);
      if (!raw?.length) continue;
      const line = new TextDecoder().decode(raw).replaceAll("\0", " ").trim();
      if (needles.some((n) => line.includes(n))) found.add(`${entry.name}: ${line}`);
    }
    samples++;
  };
  const loop = (async () => {
    while (!stopped) {
      await sample();
      await new Promise((resolve) => setTimeout(resolve, PERIOD_MS));
    }
  })();
  return {
    samples: () => samples,
    stop: async () => {
      stopped = true;
      await loop;
      return [...found];
    },
  };
}
