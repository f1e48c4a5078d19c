/**
 * Counting what a transfer moves: a pass-through stream that counts bytes on the wire, and a
 * counter of the entries of a tar archive on its way out (so the pod's receipt can be checked
 * against it), which reads headers only and keeps no chunk.
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

/** Counts the entries of a tar archive fed to it chunk by chunk (the chunks are not kept). */
export class ArchiveCounter {
  readonly count: ArchiveCount = { entries: 0, nameNewlines: 0, contentBytes: 0, bytes: 0 };
  #reader = new TarReader();

  /** Throws when the bytes are not a tar archive. */
  push(chunk: Uint8Array): void {
    this.count.bytes += chunk.length;
    for (const event of this.#reader.push(chunk)) {
      if (event.kind === "entry") {
        this.count.entries++;
        this.count.nameNewlines += event.entry.name.split("\n").length - 1;
        this.count.contentBytes += event.entry.size;
      }
    }
  }

  /** Throws when the archive was cut short. */
  finish(): void {
    this.#reader.finish();
  }
}
