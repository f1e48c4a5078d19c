/**
 * An incremental tar parser: feed it the bytes of an archive in chunks of any size and it returns
 * what they contain as events (an entry's header, slices of its content, its end). It keeps no
 * content in memory: data events are views of the chunks passed in. Understands ustar, POSIX PAX
 * (`path`, `linkpath`, `size`, `mtime`), GNU long names (`L`/`K`) and base-256 numbers (sizes over
 * 8 GiB). Several archives in a row (what `find -exec tar c {} +` writes) read as one.
 *
 * The archive may come from a hostile pod: every header is checksummed, metadata records are
 * bounded, and numbers are checked. Whether an entry may be written is decided elsewhere
 * (`path_safety.ts`).
 *
 * @example
 * ```ts
 * const reader = new TarReader();
 * for await (const chunk of stream) {
 *   for (const event of reader.push(chunk)) if (event.kind === "entry") console.log(event.entry.name);
 * }
 * reader.finish(); // throws when the archive was cut short
 * ```
 * @module
 */
import { concat } from "../bytes.ts";
import {
  ascii,
  NameDecoder,
  parsePax,
  paxNumber,
  paxSize,
  readNumber,
  TarFormatError,
  verifyChecksum,
} from "./tar_fields.ts";

export { TarFormatError };

export const BLOCK = 512;
/** PAX and GNU long-name records larger than this in all (before one entry) are refused: real
 * ones are a few KiB. */
export const MAX_META_BYTES = 1024 * 1024;

/** What an entry is, from its typeflag. */
export type TarEntryType =
  | "file"
  | "directory"
  | "symlink"
  | "hardlink"
  | "char-device"
  | "block-device"
  | "fifo"
  | "unsupported";

/** One archive member, with PAX and GNU long-name records already applied. */
export interface TarEntry {
  /** The member name as stored (not yet checked or normalised). */
  name: string;
  type: TarEntryType;
  /** The raw typeflag character, for messages about unsupported types. */
  typeflag: string;
  /** Permission bits and setuid/setgid/sticky, as stored. */
  mode: number;
  /** Content length in bytes (0 for everything but regular files). */
  size: number;
  /** Modification time in seconds since the epoch (fractional with PAX). */
  mtime: number;
  /** Target of a symlink or hard link. */
  linkname: string;
  /** False when the name or link target was not valid UTF-8 (shown with U+FFFD instead). */
  utf8: boolean;
}

export type TarEvent =
  | { kind: "entry"; entry: TarEntry }
  | { kind: "data"; bytes: Uint8Array }
  | { kind: "entry-end" };

const TYPES: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "char-device",
  "4": "block-device",
  "5": "directory",
  "6": "fifo",
};

/** Types whose size field does not announce content (as in Go's archive/tar). */
export const HEADER_ONLY: ReadonlySet<string> = new Set(["1", "2", "3", "4", "5", "6"]);

type State =
  | { at: "header" }
  | { at: "data"; left: number; padding: number }
  | { at: "meta"; flag: string; left: number; padding: number; parts: Uint8Array[] }
  | { at: "skip"; left: number };

export class TarReader {
  #state: State = { at: "header" };
  #header = new Uint8Array(BLOCK);
  #headerFill = 0;
  #offset = 0;
  #pax: Record<string, string> = {};
  /** Bytes of the metadata records read since the last entry. */
  #metaBytes = 0;
  #longName: string | undefined;
  #longLink: string | undefined;
  #lastWasZeroBlock = false;
  #longNamesOk = true;

  /** Parses `chunk`; the returned data events are views of it, valid until it is reused. */
  push(chunk: Uint8Array): TarEvent[] {
    const events: TarEvent[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      const state = this.#state;
      if (state.at === "header") {
        const take = Math.min(BLOCK - this.#headerFill, chunk.length - pos);
        const whole = this.#headerFill === 0 && take === BLOCK;
        if (!whole) this.#header.set(chunk.subarray(pos, pos + take), this.#headerFill);
        pos += take;
        this.#offset += take;
        if (whole) this.#onHeader(chunk.subarray(pos - BLOCK, pos), events);
        else if ((this.#headerFill += take) === BLOCK) {
          this.#headerFill = 0;
          this.#onHeader(this.#header, events);
        }
        continue;
      }
      const take = Math.min(state.left, chunk.length - pos);
      const bytes = chunk.subarray(pos, pos + take);
      pos += take;
      this.#offset += take;
      state.left -= take;
      if (state.at === "data" && bytes.length) events.push({ kind: "data", bytes });
      if (state.at === "meta") state.parts.push(bytes.slice());
      if (state.left > 0) continue;
      if (state.at === "data") {
        events.push({ kind: "entry-end" });
        this.#state = state.padding > 0 ? { at: "skip", left: state.padding } : { at: "header" };
      } else if (state.at === "meta") {
        this.#onMeta(state.flag, concat(state.parts));
        this.#state = state.padding > 0 ? { at: "skip", left: state.padding } : { at: "header" };
      } else {
        this.#state = { at: "header" };
      }
    }
    return events;
  }

  /** Call at the end of the input. Throws when it ended inside a header or an entry. Returns
   * whether the input ended with an end-of-archive block (false for an empty input). */
  finish(): { endMarker: boolean } {
    checkEnd(
      this.#offset,
      this.#state.at === "header",
      this.#header.subarray(0, this.#headerFill),
      this.#longName !== undefined || this.#longLink !== undefined || "path" in this.#pax,
    );
    return { endMarker: this.#lastWasZeroBlock };
  }

  #onHeader(block: Uint8Array, events: TarEvent[]): void {
    const at = this.#offset - BLOCK;
    if (block.every((b) => b === 0)) {
      this.#lastWasZeroBlock = true;
      return;
    }
    this.#lastWasZeroBlock = false;
    verifyChecksum(block, at);
    const flag = String.fromCharCode(block[156]);
    const size = readNumber(block, 124, 12, "size", at);
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
      // One cap for all the records before an entry: they are kept until it comes.
      this.#metaBytes += size;
      if (this.#metaBytes > MAX_META_BYTES) {
        throw new TarFormatError(
          `the metadata records before the entry at byte ${at} take ${this.#metaBytes} bytes ` +
            `(more than ${MAX_META_BYTES})`,
        );
      }
      this.#state = size > 0
        ? { at: "meta", flag, left: size, padding, parts: [] }
        : { at: "header" };
      if (size === 0) this.#onMeta(flag, new Uint8Array());
      return;
    }
    const names = new NameDecoder();
    const magic = ascii(block, 257, 6);
    const prefix = magic === "ustar\0" ? names.field(block, 345, 155) : "";
    const storedName = names.field(block, 0, 100);
    const pax = this.#pax;
    const entry: TarEntry = {
      name: pax.path ?? this.#longName ?? (prefix ? `${prefix}/${storedName}` : storedName),
      type: TYPES[flag] ?? "unsupported",
      typeflag: flag,
      mode: readNumber(block, 100, 8, "mode", at),
      size: HEADER_ONLY.has(flag) ? 0 : (pax.size !== undefined ? paxSize(pax.size, at) : size),
      mtime: pax.mtime !== undefined
        ? paxNumber(pax.mtime, at)
        : readNumber(block, 136, 12, "", at),
      linkname: pax.linkpath ?? this.#longLink ?? names.field(block, 157, 100),
      utf8: names.ok && this.#longNamesOk,
    };
    this.#longNamesOk = true;
    this.#metaBytes = 0;
    this.#pax = {};
    this.#longName = undefined;
    this.#longLink = undefined;
    events.push({ kind: "entry", entry });
    if (entry.size > 0) {
      this.#state = {
        at: "data",
        left: entry.size,
        padding: (BLOCK - (entry.size % BLOCK)) % BLOCK,
      };
    } else {
      events.push({ kind: "entry-end" });
      // A header-only type that still announces a size: its blocks are skipped, not parsed.
      if (HEADER_ONLY.has(flag) && size > 0) this.#state = { at: "skip", left: size + padding };
    }
  }

  #onMeta(flag: string, data: Uint8Array): void {
    const names = new NameDecoder();
    if (flag === "L") this.#longName = names.field(data, 0, data.length);
    else if (flag === "K") this.#longLink = names.field(data, 0, data.length);
    else if (flag === "x") this.#pax = { ...this.#pax, ...parsePax(data, this.#offset) };
    // "g" (global) records only carry defaults kubehook does not use.
    this.#longNamesOk &&= names.ok;
  }
}

/** Throws unless an archive may end at `offset`: between members (`atHeader`, with no more than
 * zero bytes of the next header read: `partialHeader`) and not after a long-name record that
 * still waits for its member (`pendingName`). */
export function checkEnd(
  offset: number,
  atHeader: boolean,
  partialHeader: Uint8Array,
  pendingName: boolean,
): void {
  if (!atHeader || !partialHeader.every((b) => b === 0)) {
    throw new TarFormatError(
      `the input ended at byte ${offset}, in the middle of ${
        atHeader ? "a header" : "an entry"
      } (the sender stopped early or the connection was cut)`,
    );
  }
  if (pendingName) {
    throw new TarFormatError(`the input ended at byte ${offset} after a long-name record`);
  }
}
