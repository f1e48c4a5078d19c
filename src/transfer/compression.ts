/**
 * Whether a transfer is gzip-compressed (`KUBEHOOK_TRANSFER_COMPRESSION=auto|gzip|none`), and the
 * gzip streams themselves (the platform's `CompressionStream`, no dependency).
 *
 * The `auto` rule comes from measurement (bench/transfer_bench.ts): on a 2-core machine
 * `CompressionStream("gzip")` packs a workspace-like archive at 60–90 MB/s (2× smaller) and a
 * text-heavy one at about 200 MB/s (40× smaller), while `gzip -dc` in the pod unpacks at
 * 200–250 MB/s. Compressing is pipelined with sending, so it pays off exactly when the exec
 * connection is slower than the compressor: below about 40 MB/s (a margin under the worst case
 * measured). The connection's speed is measured by every uncompressed transfer big enough to be
 * bandwidth-bound (≥ 4 MiB) and kept in the hook's state as a {@link LinkEstimate}; until one
 * exists, `auto` sends uncompressed (and so measures).
 *
 * @module
 */
import type { Compression } from "../runner/settings.ts";

/** Below this, `auto` compresses (bytes per second). */
export const GZIP_BELOW_BYTES_PER_SECOND = 40_000_000;
/** Smaller transfers measure latency, not bandwidth. */
const MIN_MEASURED_BYTES = 4 * 1024 * 1024;

/** The exec connection's measured speed; plain data, kept in the hook's state. */
export interface LinkEstimate {
  bytesPerSecond: number;
}

/** Whether to gzip a transfer. */
export function chooseGzip(setting: Compression, link: LinkEstimate | undefined): boolean {
  if (setting !== "auto") return setting === "gzip";
  return link !== undefined && link.bytesPerSecond < GZIP_BELOW_BYTES_PER_SECOND;
}

/** The new estimate after a transfer of `wireBytes` in `seconds`: only uncompressed transfers big
 * enough to be bandwidth-bound count (a compressed one may be limited by the compressor). */
export function updateLinkEstimate(
  previous: LinkEstimate | undefined,
  transfer: { wireBytes: number; seconds: number; gzip: boolean },
): LinkEstimate | undefined {
  if (transfer.gzip || transfer.wireBytes < MIN_MEASURED_BYTES || transfer.seconds <= 0) {
    return previous;
  }
  return { bytesPerSecond: Math.round(transfer.wireBytes / transfer.seconds) };
}

/** A gzip compressor as a byte transform. */
export function gzipStream(): TransformStream<Uint8Array, Uint8Array> {
  return new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>;
}

/** A gzip decompressor as a byte transform. */
export function gunzipStream(): TransformStream<Uint8Array, Uint8Array> {
  return new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>;
}
