/**
 * The job-log lines of a transfer: one summary (entries, bytes, seconds, MB/s, entries deleted)
 * for the caller to print inside a `::group::`, detail lines for `::debug::`, and warnings
 * (entries the host refused to write or remove, tar's complaints) for `::warning::`. Formatting
 * only; printing is the caller's.
 *
 * @example
 * ```ts
 * const { summary, details, warnings } = formatTransfer(report);
 * group(summary); details.forEach(debug); warnings.forEach((w) => warning(w)); endGroup();
 * ```
 * @module
 */
import type { RejectedEntry } from "./extract.ts";

/** What a finished transfer did. */
export interface TransferReport {
  direction: "to-pod" | "from-pod";
  /** Host directory and pod directory, for the message. */
  hostPath: string;
  podPath: string;
  /** Archive entries moved (files, directories, links). */
  entries: number;
  /** Bytes of file content moved. */
  contentBytes: number;
  /** Bytes that crossed the exec connection (compressed when gzip). */
  wireBytes: number;
  seconds: number;
  gzip: boolean;
  /** 1 unless the connection broke and the transfer was repeated. */
  attempts: number;
  /** Entries removed from the host because the pod deleted them (from-pod only). */
  deleted: number;
  /** From-pod with a directory listing: the directories it covered and the paths the pod holds
   * but the host does not (see `ExtractReport.listed`). */
  listed?: { dirs: string[]; podOnly: string[] };
  /** Entries the host refused to extract or remove (from-pod only). */
  rejected: RejectedEntry[];
  /** tar's warnings (files that changed while read). */
  warnings: string;
  /** To-pod with a follow-up (`CopyToPodOptions.followUp`): what it printed. */
  followUpOutput?: string;
}

/** One summary line, the detail lines and the warnings. */
export function formatTransfer(
  report: TransferReport,
): { summary: string; details: string[]; warnings: string[] } {
  const where = report.direction === "to-pod"
    ? `${report.hostPath} → pod ${report.podPath}`
    : `pod ${report.podPath} → ${report.hostPath}`;
  const rate = report.seconds > 0 ? report.contentBytes / report.seconds : 0;
  const summary = `Copied ${count(report.entries)} ${report.entries === 1 ? "entry" : "entries"} ` +
    `(${megabytes(report.contentBytes)}) ${where} in ${report.seconds.toFixed(2)} s ` +
    `(${megabytes(rate)}/s)${report.deleted > 0 ? `; ${count(report.deleted)} deleted` : ""}`;
  const details = [
    `transfer ${report.direction}: ${report.wireBytes} bytes on the wire` +
    `${report.gzip ? " (gzip)" : ""}, ${report.contentBytes} bytes of content, ` +
    `${report.attempts} attempt${report.attempts === 1 ? "" : "s"}`,
  ];
  if (report.attempts > 1) {
    details.push(`the exec connection broke ${report.attempts - 1} time(s); the copy was repeated`);
  }
  const warnings = report.rejected.map((r) =>
    `Not copied back from the job pod: ${JSON.stringify(r.name)}, because ${r.reason}.`
  );
  if (report.warnings) warnings.push(`tar reported while copying ${where}: ${report.warnings}`);
  return { summary, details, warnings };
}

function megabytes(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}
