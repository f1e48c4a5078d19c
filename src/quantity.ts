/**
 * Kubernetes resource quantities for CPU and memory, read to numbers so kubehook can compare a
 * request with an administrator's cap: `1.5` or `1500m` CPUs, `512Mi`, `4G` or `1073741824`
 * bytes. Shared by the settings (the caps) and the pod (what options ask for).
 *
 * @example
 * ```ts
 * cpuMillis("1500m"); // 1500
 * memoryBytes("4Gi"); // 4294967296
 * ```
 * @module
 */

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const DECIMAL: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12, "": 1 };

/** Millicores of a CPU quantity, or undefined when it is not one. */
export function cpuMillis(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(m?)$/.exec(text.trim());
  if (!match) return undefined;
  return match[2] === "m" ? Number(match[1]) : Number(match[1]) * 1000;
}

/** Bytes of a memory quantity, or undefined when it is not one. */
export function memoryBytes(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(text.trim());
  if (!match) return undefined;
  const unit = match[2] ?? "";
  return Number(match[1]) * (BINARY[unit] ?? DECIMAL[unit]);
}
