/**
 * The field encodings of tar headers: checksums, octal and base-256 numbers, NUL-terminated UTF-8
 * names, PAX records. Pure functions for `tar_reader.ts`; every malformed field is a
 * {@link TarFormatError} naming the byte offset of its header.
 *
 * @module
 */

const utf8 = new TextDecoder("utf-8", { fatal: true });
const lenient = new TextDecoder();

/** Thrown for bytes that are not a tar archive or one cut short. */
export class TarFormatError extends SyntaxError {
  constructor(message: string) {
    super(`Cannot read the tar archive: ${message}`);
    this.name = "TarFormatError";
  }
}

/** Parses PAX records (`"<length> <key>=<value>\n"`, length in bytes, including itself). */
export function parsePax(data: Uint8Array, at: number): Record<string, string> {
  const records: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    const length = space > pos ? Number(ascii(data, pos, space - pos)) : NaN;
    if (!Number.isSafeInteger(length) || length <= space - pos || pos + length > data.length) {
      if (data.subarray(pos).every((b) => b === 0)) break;
      throw new TarFormatError(`a PAX record before byte ${at} has an invalid length`);
    }
    const record = data.subarray(space + 1, pos + length - 1);
    const eq = record.indexOf(0x3d);
    if (eq < 1 || data[pos + length - 1] !== 0x0a) {
      throw new TarFormatError(`a PAX record before byte ${at} is malformed`);
    }
    const key = decode(record.subarray(0, eq), at);
    const value = decode(record.subarray(eq + 1), at);
    if (value.includes("\0")) throw new TarFormatError(`the PAX "${key}" record holds a NUL byte`);
    records[key] = value;
    pos += length;
  }
  return records;
}

/** Checks the checksum of the 512-byte header at `off` in `bytes` (unsigned, or signed as some
 * old tars wrote it); `at` is its offset in the archive, for the message. */
export function verifyChecksum(bytes: Uint8Array, at: number, off = 0): void {
  const stored = readNumber(bytes, off + 148, 8, "checksum", at);
  // The checksum field counts as eight spaces. The unsigned sum (what every tar since POSIX.1
  // writes) is checked first in branch-free loops: this runs for every header of every copy.
  const unsigned = 8 * 0x20 + byteSum(bytes, off, off + 148) + byteSum(bytes, off + 156, off + 512);
  if (stored === unsigned) return;
  let signed = unsigned;
  for (let i = 0; i < 512; i++) if ((i < 148 || i >= 156) && bytes[off + i] > 127) signed -= 256;
  if (stored !== signed) {
    throw new TarFormatError(
      `the header at byte ${at} has an invalid checksum (not a tar stream?)`,
    );
  }
}

/** The sum of `bytes[from..to)` (`to - from` a multiple of 4), four bytes a step. */
function byteSum(bytes: Uint8Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i += 4) {
    sum += bytes[i] + bytes[i + 1] + bytes[i + 2] + bytes[i + 3];
  }
  return sum;
}

/** Reads an octal field, or a base-256 one (high bit set) as GNU tar writes for large values. */
export function readNumber(
  block: Uint8Array,
  off: number,
  len: number,
  what: string,
  at: number,
): number {
  if (block[off] & 0x80) {
    if (block[off] === 0xff) {
      throw new TarFormatError(`the header at byte ${at} has a negative ${what}`);
    }
    let value = block[off] & 0x7f;
    for (let i = 1; i < len; i++) value = value * 256 + block[off + i];
    if (!Number.isSafeInteger(value)) {
      throw new TarFormatError(`the header at byte ${at} has a ${what} too large to handle`);
    }
    return value;
  }
  // Octal digits, after leading spaces and before trailing NULs or spaces. Read byte by byte,
  // without strings: every entry of every transfer passes here (the archive counter, the extractor).
  let start = off;
  let end = off + len;
  while (end > start && (block[end - 1] === 0 || block[end - 1] === 0x20)) end--;
  while (start < end && block[start] === 0x20) start++;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = block[i] - 0x30;
    if (digit < 0 || digit > 7) {
      throw new TarFormatError(`the header at byte ${at} has an invalid ${what || "mtime"} field`);
    }
    value = value * 8 + digit;
  }
  return value;
}

export function paxNumber(value: string, at: number): number {
  if (!/^-?\d+(\.\d+)?$/.test(value)) {
    throw new TarFormatError(`a PAX number before byte ${at} is invalid: "${value}"`);
  }
  const n = Number(value);
  if (!Number.isFinite(n) || Math.abs(n) > Number.MAX_SAFE_INTEGER) {
    throw new TarFormatError(`a PAX number before byte ${at} is out of range: "${value}"`);
  }
  return n;
}

export function paxSize(value: string, at: number): number {
  const n = paxNumber(value, at);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new TarFormatError(`a PAX size before byte ${at} is invalid: "${value}"`);
  }
  return n;
}

export function ascii(bytes: Uint8Array, off: number, len: number): string {
  let text = "";
  for (let i = off; i < off + len; i++) text += String.fromCharCode(bytes[i]);
  return text;
}

/** Decodes NUL-terminated name fields, remembering whether all of them were valid UTF-8. */
export class NameDecoder {
  ok = true;
  field(bytes: Uint8Array, off: number, len: number): string {
    const field = bytes.subarray(off, off + len);
    const end = field.indexOf(0);
    const name = end === -1 ? field : field.subarray(0, end);
    try {
      return utf8.decode(name);
    } catch {
      this.ok = false;
      return lenient.decode(name);
    }
  }
}

function decode(bytes: Uint8Array, at: number): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new TarFormatError(`a PAX record before byte ${at} is not valid UTF-8`);
  }
}
