/**
 * A server-side WebSocket (RFC 6455) on a raw connection. The cluster speaks it itself, instead
 * of through `Deno.upgradeWebSocket`, because fault injection needs what that API cannot do:
 * cut the TCP connection with no close frame ({@link WebSocketConnection.abort}) and go silent
 * without answering pings ({@link WebSocketConnection.stall}).
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

/** Encodes an unmasked (server-to-client) frame. */
export function encodeFrame(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  const n = payload.length;
  const headerLength = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const frame = new Uint8Array(headerLength + n);
  frame[0] = (fin ? 0x80 : 0) | opcode;
  if (n < 126) frame[1] = n;
  else if (n < 65536) {
    frame[1] = 126;
    new DataView(frame.buffer).setUint16(2, n);
  } else {
    frame[1] = 127;
    new DataView(frame.buffer).setBigUint64(2, BigInt(n));
  }
  frame.set(payload, headerLength);
  return frame;
}

/** Decodes frames (masked or not) from a byte stream delivered in arbitrary chunks. Bytes wait in
 * one growing buffer (appended, not re-joined per chunk), and payloads are unmasked a 32-bit word
 * at a time: exec stdin is the hot path of every workspace copy. */
export class FrameDecoder {
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
      const maskAt = offset + header;
      const start = maskAt + (masked ? 4 : 0);
      if (this.#end < start + length) break;
      const payload = bytes.slice(start, start + length);
      if (masked) unmask(payload, bytes.subarray(maskAt, maskAt + 4));
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

/** XORs `payload` (a fresh copy, so 4-byte aligned) with the 4-byte `mask`; the word key is built
 * little-endian, the byte order of every platform Deno runs on. */
function unmask(payload: Uint8Array, mask: Uint8Array): void {
  const words = payload.length >>> 2;
  const key = (mask[0] | (mask[1] << 8) | (mask[2] << 16) | (mask[3] << 24)) >>> 0;
  const view = new Uint32Array(payload.buffer, payload.byteOffset, words);
  for (let i = 0; i < words; i++) view[i] ^= key;
  for (let i = words * 4; i < payload.length; i++) payload[i] ^= mask[i & 3];
}

/** The `Sec-WebSocket-Accept` value for a client's key. */
export async function acceptKey(key: string): Promise<string> {
  const data = new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  return btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest("SHA-1", data))));
}

/** Writes all of `bytes` to `conn`. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** A message: the payload of one or more frames. */
export interface Message {
  binary: boolean;
  data: Uint8Array;
}

/** An open WebSocket on `conn`, after the 101 response was written. */
export class WebSocketConnection {
  #writing: Promise<void> = Promise.resolve();
  #closed = false;
  #closeSent = false;
  #stalled = false;

  /** `leftover`: bytes read past the request head, already part of the frame stream. */
  constructor(readonly conn: Deno.Conn, private leftover: Uint8Array) {}

  /** Whether the connection is gone (closed, aborted or failed). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Data messages from the client, until it closes or the connection ends. Pings are
   * answered here (unless stalled); a close frame is answered and ends the iteration. */
  async *messages(): AsyncGenerator<Message> {
    const decoder = new FrameDecoder();
    const buffer = new Uint8Array(64 * 1024);
    let parts: Uint8Array[] = [];
    let binary = true;
    let chunk: Uint8Array | null = this.leftover;
    while (chunk) {
      for (const frame of decoder.push(chunk)) {
        if (this.#stalled) continue;
        if (frame.opcode === Opcode.ping) this.#send(Opcode.pong, frame.payload);
        else if (frame.opcode === Opcode.close) {
          await this.close(1000);
          return;
        } else if (frame.opcode !== Opcode.pong) {
          if (frame.opcode !== Opcode.continuation) binary = frame.opcode === Opcode.binary;
          parts.push(frame.payload);
          if (frame.fin) {
            const data = parts.length === 1 ? parts[0] : concat(parts);
            parts = [];
            yield { binary, data };
          }
        }
      }
      const n = await this.conn.read(buffer).catch(() => null);
      // A view, not a copy: the decoder copies what it keeps before the next read.
      chunk = n === null ? null : buffer.subarray(0, n);
    }
    // The client ended its side: let what is queued (a pong, say) go out before closing.
    await this.#writing.catch(() => {});
    this.#finish();
  }

  /** Sends one binary message; resolves when written (rejects once the connection is gone). */
  send(data: Uint8Array): Promise<void> {
    return this.#send(Opcode.binary, data);
  }

  /** Sends a close frame with `code` and closes the connection. */
  async close(code = 1000): Promise<void> {
    if (!this.#closeSent && !this.#closed) {
      this.#closeSent = true;
      const payload = new Uint8Array(2);
      new DataView(payload.buffer).setUint16(0, code);
      await this.#send(Opcode.close, payload).catch(() => {});
    }
    this.#finish();
  }

  /** Cuts the TCP connection at once: no close frame, no status, as a broken network does. */
  abort(): void {
    this.#finish();
  }

  /** Goes silent: nothing more is sent and pings are no longer answered; the socket stays open
   * until the client gives up. */
  stall(): void {
    this.#stalled = true;
  }

  #send(opcode: number, payload: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("the WebSocket connection is closed"));
    if (this.#stalled) return Promise.resolve();
    const frame = encodeFrame(opcode, payload);
    this.#writing = this.#writing.catch(() => {}).then(() => writeAll(this.conn, frame));
    return this.#writing;
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed by the peer.
    }
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
