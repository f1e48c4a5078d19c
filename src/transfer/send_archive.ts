/**
 * The host → pod half of a copy's stream: the host's tar archive into an exec's stdin, counted on
 * the way (the pod's receipt is checked against the count) and optionally gzipped. The archive is
 * read into one reused buffer (`HostArchive.chunks`), so memory stays flat however large the
 * workspace; each write is awaited before the next read.
 *
 * @example
 * ```ts
 * const sent = sendArchive(await packHostTree(work), session.stdin!, { gzip: false });
 * await sent.done;
 * console.log(`${sent.count.entries} entries, ${sent.wire.bytes} bytes`);
 * ```
 * @module
 */
import { gzipStream } from "./compression.ts";
import { type ArchiveCount, ArchiveCounter, byteTap } from "./counting.ts";
import type { HostArchive } from "./host_pack.ts";

/** What {@link sendArchive} has sent so far, and its end. */
export interface Sending {
  /** The archive's entries and bytes, counted as they pass. */
  count: ArchiveCount;
  /** Bytes written to the sink (compressed when gzip). */
  wire: { bytes: number };
  /** Resolves when the archive is sent and the sink closed; rejects when writing failed. */
  done: Promise<void>;
}

/** Streams `archive` into `sink` (an exec's stdin), counting its entries on the way, gzipped on
 * the way with `gzip`; `onWire` runs for every chunk written. The archive's chunks are views of
 * one reused buffer, so each write is awaited before the next read: the sink must be done with a
 * chunk when its write resolves, as an exec's stdin is (it frames the bytes at once). */
export function sendArchive(
  archive: HostArchive,
  sink: WritableStream<Uint8Array>,
  options: { gzip: boolean; onWire?: () => void },
): Sending {
  const counter = new ArchiveCounter();
  const wire = byteTap(options.onWire);
  const gzip = options.gzip ? gzipStream() : undefined;
  // Compressed output is fresh memory, so it may flow through streams to the sink.
  const compressed = gzip?.readable.pipeThrough(wire.stream).pipeTo(sink);
  const writer = (gzip?.writable ?? sink).getWriter();
  const done = (async () => {
    try {
      for await (const chunk of archive.chunks()) {
        counter.push(chunk);
        if (!gzip) {
          wire.count.bytes += chunk.length;
          options.onWire?.();
        }
        await writer.write(chunk);
      }
      counter.finish();
    } catch (error) {
      // An archive cut short (the host's tar failed): the pod must still see its stdin end, or
      // its tar would wait for the rest until a watchdog gave up on the connection.
      await writer.close().catch(() => {});
      await compressed?.catch(() => {});
      throw error;
    }
    await writer.close();
    await compressed;
  })();
  return { count: counter.count, wire: wire.count, done };
}
