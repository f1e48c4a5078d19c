/**
 * Byte-array helpers shared by the tar reader, the WebSocket codec, the log reader, the secrets
 * kubehook writes and the step output it passes on.
 *
 * @module
 */

/** The bytes of `parts` in order, in one new array. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Base64 of the UTF-8 bytes of `text` (`btoa` alone only takes Latin-1), as Secret data. */
export function base64Utf8(text: string): string {
  return btoa(Array.from(new TextEncoder().encode(text), (b) => String.fromCharCode(b)).join(""));
}

/** Writes all of `bytes` to `writer`: a write may take only part of them (`Deno.stdout` on a full
 * pipe), and the rest must follow, in order, before the next chunk. */
export async function writeFully(
  writer: { write(bytes: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  for (let done = 0; done < bytes.length;) {
    done += await writer.write(bytes.subarray(done));
  }
}
