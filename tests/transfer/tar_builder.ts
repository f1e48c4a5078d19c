/**
 * Builds tar archives byte by byte for tests: ordinary members, PAX records, GNU long names,
 * base-256 sizes, and the malformed or hostile members a real `tar` would never write.
 *
 * @example
 * ```ts
 * const archive = buildArchive([
 *   { name: "ok.txt", data: "hello" },
 *   { name: "evil", typeflag: "2", linkname: "/etc" },
 *   { name: "evil/passwd", data: "x" },
 * ]);
 * ```
 * @module
 */
import { concat } from "../../src/bytes.ts";

const enc = new TextEncoder();

/** One member to write. `typeflag` defaults to "0" (regular file). */
export interface BuildEntry {
  name: string;
  typeflag?: string;
  data?: string | Uint8Array;
  linkname?: string;
  mode?: number;
  mtime?: number;
  /** PAX records written in an `x` member before this one. */
  pax?: Record<string, string>;
  /** Written as a GNU `L` member before this one (the header keeps a truncated name). */
  gnuLongName?: string;
  /** Overrides the size field (e.g. a base-256 value for a file over 8 GiB); data is not padded. */
  sizeField?: Uint8Array;
}

/** A 512-byte ustar header with a valid checksum. */
export function tarHeader(entry: BuildEntry, size: number): Uint8Array {
  const h = new Uint8Array(512);
  const name = enc.encode(entry.name);
  h.set(name.subarray(0, 100), 0);
  octal(h, 100, 8, entry.mode ?? (entry.typeflag === "5" ? 0o755 : 0o644));
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  if (entry.sizeField) h.set(entry.sizeField, 124);
  else octal(h, 124, 12, size);
  octal(h, 136, 12, entry.mtime ?? 1_700_000_000);
  h.fill(0x20, 148, 156);
  h[156] = (entry.typeflag ?? "0").charCodeAt(0);
  h.set(enc.encode(entry.linkname ?? "").subarray(0, 100), 157);
  h.set(enc.encode("ustar\u000000"), 257);
  let sum = 0;
  for (const b of h) sum += b;
  octal(h, 148, 7, sum);
  return h;
}

/** PAX records in their `"<len> key=value\n"` form. */
export function paxData(records: Record<string, string>): Uint8Array {
  let out = "";
  for (const [key, value] of Object.entries(records)) {
    const body = ` ${key}=${value}\n`;
    const bodyLength = enc.encode(body).length;
    let length = bodyLength + 1;
    while (String(length).length + bodyLength !== length) length++;
    out += `${length}${body}`;
  }
  return enc.encode(out);
}

/** The archive bytes, ending with two zero blocks unless `end` is false. */
export function buildArchive(entries: BuildEntry[], end = true): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const entry of entries) {
    if (entry.pax) member(parts, { name: "PaxHeader", typeflag: "x" }, paxData(entry.pax));
    if (entry.gnuLongName) {
      member(parts, { name: "././@LongLink", typeflag: "L" }, enc.encode(entry.gnuLongName + "\0"));
    }
    const data = typeof entry.data === "string" ? enc.encode(entry.data) : entry.data;
    member(parts, entry, data ?? new Uint8Array());
  }
  if (end) parts.push(new Uint8Array(1024));
  return concat(parts);
}

function member(parts: Uint8Array[], entry: BuildEntry, data: Uint8Array): void {
  parts.push(tarHeader(entry, data.length));
  if (data.length) {
    parts.push(data);
    if (!entry.sizeField) parts.push(new Uint8Array((512 - (data.length % 512)) % 512));
  }
}

function octal(h: Uint8Array, off: number, len: number, value: number): void {
  h.set(enc.encode(value.toString(8).padStart(len - 1, "0") + "\0"), off);
}

/** A stream that delivers `bytes` in chunks of `size` (to exercise split headers). */
export function chunked(bytes: Uint8Array, size = 100): ReadableStream<Uint8Array> {
  let pos = 0;
  return new ReadableStream({
    pull(controller) {
      if (pos >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(pos, pos + size));
      pos += size;
    },
  });
}
