/**
 * The receipt a pod-side transfer fragment prints as its last stderr line
 * (`kubehook-receipt tar_exit=0 lines=12`), and the host's check of it against what was sent.
 * This is the transfer's verification: tar's own exit code and its entry count, read from the
 * stream the exec already has; no second exec, no polling, no hashing.
 *
 * @module
 */

export const RECEIPT_PREFIX = "kubehook-receipt";

/** The receipt's numbers (e.g. `tar_exit`, `lines`, `pack_exit`) and the rest of stderr. */
export interface ParsedStderr {
  receipt: Record<string, number> | undefined;
  /** stderr without the receipt line: tar's own messages. */
  messages: string;
}

/** Finds the last receipt line in `stderr`. */
export function parseReceipt(stderr: string): ParsedStderr {
  const lines = stderr.split("\n");
  const at = lines.findLastIndex((l) => l.startsWith(`${RECEIPT_PREFIX} `));
  if (at === -1) return { receipt: undefined, messages: stderr.trim() };
  const receipt: Record<string, number> = {};
  for (const [, key, value] of lines[at].matchAll(/(\w+)=(\d+)/g)) receipt[key] = Number(value);
  lines.splice(at, 1);
  return { receipt, messages: lines.join("\n").trim() };
}

/** What the host sent into `tar x`, counted from the archive as it went out. */
export interface SentCount {
  entries: number;
  /** Newlines inside entry names: busybox lists such a name on several lines, GNU tar on one. */
  nameNewlines: number;
}

/** The line counts of tar's `-v` listing that confirm `sent`: one line per entry, plus one per
 * newline in a name (busybox). The pod-side check of a step's upload uses the same range. */
export function acceptedLines(sent: SentCount): { min: number; max: number } {
  return { min: sent.entries, max: sent.entries + sent.nameNewlines };
}

/** Why `lines` listed entries do not confirm `sent`; `lines` may be a shell expansion
 * (`$kh_l`) when the pod itself checks. */
export function countProblem(lines: number | string, sent: SentCount): string {
  return `tar in the pod listed ${lines} entries but ${sent.entries} were sent`;
}

/** Why an extraction receipt does not confirm the transfer, or undefined when it does. */
export function extractReceiptProblem(
  receipt: Record<string, number> | undefined,
  sent: SentCount,
): string | undefined {
  if (!receipt || receipt.tar_exit === undefined || receipt.lines === undefined) {
    return "the pod printed no receipt (is `sh` a POSIX shell with `tar`, `wc` and `mkdir`?)";
  }
  if (receipt.tar_exit !== 0) return `tar in the pod exited with code ${receipt.tar_exit}`;
  const { min, max } = acceptedLines(sent);
  if (receipt.lines < min || receipt.lines > max) return countProblem(receipt.lines, sent);
  return undefined;
}
