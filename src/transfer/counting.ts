/**
 * Pass-through streams that count what flows through them: bytes on the wire, and the entries of
 * a tar archive on its way out (so the pod's receipt can be checked against it). Chunks are
 * passed on unchanged; the archive tap reads headers only.
 *
 * @module
 */
import { TarReader } from "./tar_reader.ts";

/** A tap and the numbers it has counted so far. */
export interface Tap<C> {
  stream: TransformStream<Uint8Array, Uint8Array>;
  count: C;
}

/** Counts bytes; `onChunk` runs for each chunk (a stall watchdog's reset). */
export function byteTap(onChunk?: () => void): Tap<{ bytes: number }> {
  const count = { bytes: 0 };
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      count.bytes += chunk.length;
      onChunk?.();
      controller.enqueue(chunk);
    },
  });
  return { stream, count };
}

/** What an archive held. */
export interface ArchiveCount {
  entries: number;
  /** Newlines inside entry names (see `SentCount`). */
  nameNewlines: number;
  /** Bytes of file content. */
  contentBytes: number;
  /** Bytes of the archive. */
  bytes: number;
}

/** Counts the entries of the tar archive passing through; the stream errors if it is not one.
 * `onChunk` runs for each chunk. */
export function archiveTap(onChunk?: () => void): Tap<ArchiveCount> {
  const count: ArchiveCount = { entries: 0, nameNewlines: 0, contentBytes: 0, bytes: 0 };
  const reader = new TarReader();
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      count.bytes += chunk.length;
      onChunk?.();
      for (const event of reader.push(chunk)) {
        if (event.kind === "entry") {
          count.entries++;
          count.nameNewlines += event.entry.name.split("\n").length - 1;
          count.contentBytes += event.entry.size;
        }
      }
      controller.enqueue(chunk);
    },
    flush() {
      reader.finish();
    },
  });
  return { stream, count };
}
