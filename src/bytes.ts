/**
 * Byte-array helpers shared by the tar reader and the WebSocket codec.
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
