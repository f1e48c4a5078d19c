/**
 * One run of a container's log, kept in a file as kubelet keeps it: stdout and stderr bytes in the
 * order they arrived, and beside them an index of (offset, time) per written chunk so `sinceTime`
 * can start at the first chunk written at or after it. Readers stream from the file (`tailLines`,
 * `sinceTime`, `follow` until the run ends); attach sessions subscribe to chunks as they arrive.
 * With `timestamps` a reader gets lines, each prefixed with the time its newline was written
 * (RFC 3339 with the fraction's trailing zeros cut, as Go prints it), as kubelet serves them.
 *
 * @module
 */
import { concat } from "../../../src/bytes.ts";
import type { LogOptions } from "../contract.ts";

/** Which stream a chunk came from. */
export type StreamName = "stdout" | "stderr";

const INDEX_RECORD = 16;
const READ_SIZE = 64 * 1024;

/** An append-only log file with live readers. */
export class ContainerLog {
  #size = 0;
  /** Index records written so far. */
  #records = 0;
  #closed = false;
  #writes: Promise<void> = Promise.resolve();
  #wake = Promise.withResolvers<void>();
  #listeners = new Set<(chunk: Uint8Array, stream: StreamName) => void>();

  private constructor(
    readonly path: string,
    readonly indexPath: string,
    private file: Deno.FsFile,
    private index: Deno.FsFile,
  ) {}

  /** Creates an empty log at `path` (and its index at `path.idx`). */
  static async create(path: string): Promise<ContainerLog> {
    const options = { write: true, create: true, truncate: true };
    const file = await Deno.open(path, options);
    const index = await Deno.open(`${path}.idx`, options);
    return new ContainerLog(path, `${path}.idx`, file, index);
  }

  /** Whether the run has ended (no more bytes will come). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Appends `chunk`; listeners see it at once, readers once it is on disk. */
  write(chunk: Uint8Array, stream: StreamName): void {
    for (const listener of this.#listeners) listener(chunk, stream);
    this.#writes = this.#writes.then(async () => {
      const record = new DataView(new ArrayBuffer(INDEX_RECORD));
      record.setFloat64(0, this.#size, true);
      record.setFloat64(8, Date.now(), true);
      await writeAll(this.file, chunk);
      await writeAll(this.index, new Uint8Array(record.buffer));
      this.#size += chunk.length;
      this.#records++;
      this.#notify();
    });
  }

  /** Ends the run: pending writes land, followers finish, listeners are dropped. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#writes;
    this.#closed = true;
    this.#listeners.clear();
    this.file.close();
    this.index.close();
    this.#notify();
  }

  /** Calls `listener` with every chunk written from now on; returns the unsubscribe function. */
  subscribe(listener: (chunk: Uint8Array, stream: StreamName) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The log as pods/log serves it. */
  read(options: LogOptions): ReadableStream<Uint8Array> {
    if (options.timestamps) return this.#readLines(options);
    let reader: Deno.FsFile | undefined;
    let offset = -1;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (offset < 0) {
          await this.#writes;
          offset = await this.#startOffset(options);
          reader = await Deno.open(this.path);
        }
        while (offset >= this.#size) {
          if (this.#closed || !options.follow) {
            reader!.close();
            return controller.close();
          }
          await this.#wake.promise;
        }
        const buffer = new Uint8Array(Math.min(READ_SIZE, this.#size - offset));
        await reader!.seek(offset, Deno.SeekMode.Start);
        const read = (await reader!.read(buffer)) ?? 0;
        offset += read;
        controller.enqueue(buffer.subarray(0, read));
      },
      cancel: () => reader?.close(),
    });
  }

  /** Lines with their times, chunk by chunk from the index: a line takes the time of the chunk
   * holding its newline; a last line without one comes when the run has ended. */
  #readLines(options: LogOptions): ReadableStream<Uint8Array> {
    const encoder = new TextEncoder();
    const since = options.sinceTime ? Date.parse(options.sinceTime) : -Infinity;
    let data: Deno.FsFile | undefined;
    let index: Deno.FsFile | undefined;
    let record = 0;
    let pending = new Uint8Array(0);
    let pendingTime = 0;
    const close = () => {
      data?.close();
      index?.close();
    };
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        data ??= await Deno.open(this.path);
        index ??= await Deno.open(this.indexPath);
        // pull is not called again until something is enqueued: read chunks until a line is done.
        while (true) {
          while (record >= this.#records) {
            if (this.#closed || !options.follow) {
              if (pending.length && pendingTime >= since) {
                controller.enqueue(concat([encoder.encode(`${goTime(pendingTime)} `), pending]));
              }
              close();
              return controller.close();
            }
            await this.#wake.promise;
          }
          // One snapshot: later writes must not mix into this chunk's bounds.
          const records = this.#records;
          const size = this.#size;
          const entry = new Uint8Array(INDEX_RECORD * 2);
          await index.seek(record * INDEX_RECORD, Deno.SeekMode.Start);
          await readFull(index, entry);
          const view = new DataView(entry.buffer);
          const start = view.getFloat64(0, true);
          const time = view.getFloat64(8, true);
          const end = record + 1 < records ? view.getFloat64(INDEX_RECORD, true) : size;
          record++;
          const chunk = new Uint8Array(end - start);
          await data.seek(start, Deno.SeekMode.Start);
          await readFull(data, chunk);
          const bytes = concat([pending, chunk]);
          const cut = bytes.lastIndexOf(10) + 1;
          pending = bytes.slice(cut);
          pendingTime = time;
          if (cut === 0 || time < since) continue;
          const stamp = encoder.encode(`${goTime(time)} `);
          const lines: Uint8Array[] = [];
          for (let at = 0; at < cut;) {
            const next = bytes.indexOf(10, at) + 1;
            lines.push(stamp, bytes.subarray(at, next));
            at = next;
          }
          return controller.enqueue(concat(lines));
        }
      },
      cancel: close,
    });
  }

  /** Deletes the files (the log must be closed). */
  async remove(): Promise<void> {
    await Deno.remove(this.path).catch(() => {});
    await Deno.remove(this.indexPath).catch(() => {});
  }

  #notify(): void {
    this.#wake.resolve();
    this.#wake = Promise.withResolvers<void>();
  }

  async #startOffset(options: LogOptions): Promise<number> {
    let start = 0;
    if (options.sinceTime) {
      const since = Date.parse(options.sinceTime);
      const index = await Deno.readFile(this.indexPath);
      const view = new DataView(index.buffer, index.byteOffset, index.byteLength);
      start = this.#size;
      for (let at = 0; at + INDEX_RECORD <= index.length; at += INDEX_RECORD) {
        if (view.getFloat64(at + 8, true) >= since) {
          start = view.getFloat64(at, true);
          break;
        }
      }
    }
    if (options.tailLines === undefined) return start;
    return Math.max(start, await this.#tailOffset(options.tailLines));
  }

  /** Where the last `lines` lines begin; a final line without newline counts as a line. */
  async #tailOffset(lines: number): Promise<number> {
    if (lines <= 0) return this.#size;
    const file = await Deno.open(this.path);
    try {
      let end = this.#size;
      let newlines = 0;
      while (end > 0) {
        const begin = Math.max(0, end - READ_SIZE);
        const block = new Uint8Array(end - begin);
        await file.seek(begin, Deno.SeekMode.Start);
        await readFull(file, block);
        for (let i = block.length - 1; i >= 0; i--) {
          // The newline ending the file closes the last line rather than starting a new one.
          if (block[i] === 10 && begin + i !== this.#size - 1 && ++newlines === lines) {
            return begin + i + 1;
          }
        }
        end = begin;
      }
      return 0;
    } finally {
      file.close();
    }
  }
}

/** An instant as Go's RFC3339Nano prints it: UTC, the fraction without trailing zeros. */
function goTime(millis: number): string {
  return new Date(millis).toISOString().replace(/\.?0*Z$/, "Z");
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  for (let written = 0; written < data.length;) {
    written += await file.write(data.subarray(written));
  }
}

async function readFull(file: Deno.FsFile, into: Uint8Array): Promise<void> {
  for (let read = 0; read < into.length;) {
    const n = await file.read(into.subarray(read));
    if (n === null) return;
    read += n;
  }
}
