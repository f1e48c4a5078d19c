/**
 * The RFC 6455 frame codec, for both ends: kubehook's WebSocket client (`websocket.ts`, masked
 * frames out, unmasked in) and the local cluster's server (the reverse). Pure, so it is tested
 * without a connection.
 *
 * @module
 */

/** Frame opcodes. */
export const Opcode = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 };

/** One decoded frame. */
export interface Frame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
}

/** Encodes one frame into a single buffer (header, mask key, payload), so it goes out in one
 * write. A payload given in parts (a channel byte and a view of the data, say) is joined in that
 * buffer, the only copy. With `mask` (a client's frames must be masked, RFC 6455 section 5.3)
 * the payload is masked on the copy; the caller's bytes are left as they are. */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array | readonly Uint8Array[],
  options: {
    fin?: boolean;
    mask?: Uint8Array;
    /** Where the frame's bytes go (every byte is written): lets a sender reuse buffers. */
    allocate?: (size: number) => Uint8Array<ArrayBuffer>;
  } = {},
): Uint8Array<ArrayBuffer> {
  const { fin = true, mask, allocate = (size) => new Uint8Array(size) } = options;
  const parts = payload instanceof Uint8Array ? [payload] : payload;
  const n = parts.reduce((sum, part) => sum + part.length, 0);
  const lengthBytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const header = 2 + lengthBytes + (mask ? 4 : 0);
  const frame = allocate(header + n);
  frame[0] = (fin ? 0x80 : 0) | opcode;
  frame[1] = (mask ? 0x80 : 0) | (n < 126 ? n : n < 65536 ? 126 : 127);
  const view = new DataView(frame.buffer, frame.byteOffset);
  if (lengthBytes === 2) view.setUint16(2, n);
  else if (lengthBytes === 8) view.setBigUint64(2, BigInt(n));
  let offset = header;
  for (const part of parts) {
    frame.set(part, offset);
    offset += part.length;
  }
  if (mask) {
    frame.set(mask.subarray(0, 4), header - 4);
    applyMask(frame.subarray(header), mask);
  }
  return frame;
}

/** The largest frame or message kubehook takes: the API server relays exec output in frames of a
 * few kilobytes, so anything near this is no exec stream, and gathering it would only fill memory. */
export const MAX_MESSAGE = 16 * 1024 * 1024;

/** Decodes frames (masked or not) from a byte stream delivered in arbitrary chunks. Bytes wait in
 * one growing buffer (appended, not re-joined per chunk), and payloads are unmasked a 32-bit word
 * at a time: exec stdin is the hot path of every workspace copy. */
export class FrameDecoder {
  /** With `views`, payloads are views of the decoder's own buffer, valid until the next
   * {@link push} (nothing is allocated per frame); without, each is a copy of its own. */
  constructor(private maxPayload = MAX_MESSAGE, private options: { views?: boolean } = {}) {}
  #buffer = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;

  /** Adds bytes; returns every frame now complete. */
  push(chunk: Uint8Array): Frame[] {
    this.#append(chunk);
    const bytes = this.#buffer;
    const view = new DataView(bytes.buffer);
    const frames: Frame[] = [];
    while (this.#end - this.#start >= 2) {
      const offset = this.#start;
      const masked = (bytes[offset + 1] & 0x80) !== 0;
      let length = bytes[offset + 1] & 0x7f;
      let header = 2;
      if (length === 126) {
        if (this.#end - offset < 4) break;
        length = view.getUint16(offset + 2);
        header = 4;
      } else if (length === 127) {
        if (this.#end - offset < 10) break;
        length = Number(view.getBigUint64(offset + 2));
        header = 10;
      }
      if (length > this.maxPayload) {
        throw new Error(
          `the server sent a WebSocket frame of ${length} bytes, more than the ${this.maxPayload} ` +
            "kubehook accepts (exec streams come in frames of a few kilobytes)",
        );
      }
      const maskAt = offset + header;
      const start = maskAt + (masked ? 4 : 0);
      if (this.#end < start + length) break;
      const payload = this.options.views
        ? bytes.subarray(start, start + length)
        : bytes.slice(start, start + length);
      if (masked) applyMask(payload, bytes.subarray(maskAt, maskAt + 4));
      frames.push({ fin: (bytes[offset] & 0x80) !== 0, opcode: bytes[offset] & 0x0f, payload });
      this.#start = start + length;
    }
    return frames;
  }

  /** Appends `chunk`, first moving the undecoded rest to the front (or into a larger buffer). */
  #append(chunk: Uint8Array): void {
    const pending = this.#end - this.#start;
    if (this.#end + chunk.length > this.#buffer.length) {
      const size = Math.max(this.#buffer.length, (pending + chunk.length) * 2);
      const target = size > this.#buffer.length ? new Uint8Array(size) : this.#buffer;
      target.set(this.#buffer.subarray(this.#start, this.#end), 0);
      this.#buffer = target;
      this.#start = 0;
      this.#end = pending;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
  }
}

/** XORs `data` in place with the 4-byte `mask` (masking and unmasking are the same), a 32-bit
 * word at a time where `data` is word-aligned. The word key is built little-endian, the byte
 * order of every platform Deno runs on. */
export function applyMask(data: Uint8Array, mask: Uint8Array): void {
  const lead = Math.min(data.length, (4 - (data.byteOffset & 3)) & 3);
  for (let i = 0; i < lead; i++) data[i] ^= mask[i];
  const words = (data.length - lead) >>> 2;
  const m = (i: number) => mask[(lead + i) & 3];
  const key = (m(0) | (m(1) << 8) | (m(2) << 16) | (m(3) << 24)) >>> 0;
  if (words) {
    const view = new Uint32Array(data.buffer, data.byteOffset + lead, words);
    for (let i = 0; i < words; i++) view[i] ^= key;
  }
  for (let i = lead + words * 4; i < data.length; i++) data[i] ^= mask[i & 3];
}

/** The `Sec-WebSocket-Accept` value for a client's key. */
export async function acceptKey(key: string): Promise<string> {
  const data = new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  return btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest("SHA-1", data))));
}

/** The payload of a close frame: the status code, then the reason in UTF-8. */
export function closePayload(code: number, reason = ""): Uint8Array {
  const text = new TextEncoder().encode(reason);
  const payload = new Uint8Array(2 + text.length);
  new DataView(payload.buffer).setUint16(0, code);
  payload.set(text, 2);
  return payload;
}

/** Reads a close frame's payload; 1005 ("no status") when it carries none. */
export function parseClosePayload(payload: Uint8Array): { code: number; reason: string } {
  if (payload.length < 2) return { code: 1005, reason: "" };
  const code = (payload[0] << 8) | payload[1];
  return { code, reason: new TextDecoder().decode(payload.subarray(2)) };
}
