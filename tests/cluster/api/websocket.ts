/**
 * A server-side WebSocket (RFC 6455) on a raw connection. The cluster speaks it itself, instead
 * of through `Deno.upgradeWebSocket`, because fault injection needs what that API cannot do:
 * cut the TCP connection with no close frame ({@link WebSocketConnection.abort}) and go silent
 * without answering pings ({@link WebSocketConnection.stall}).
 *
 * @module
 */
import { concat } from "../../../src/bytes.ts";
import {
  closePayload,
  encodeFrame,
  FrameDecoder,
  Opcode,
} from "../../../src/kube/websocket_frames.ts";

// The frame codec is kubehook's own (its client speaks the other end); the cluster's callers
// import it from here.
export { acceptKey, type Frame, FrameDecoder, Opcode } from "../../../src/kube/websocket_frames.ts";

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
      await this.#send(Opcode.close, closePayload(code)).catch(() => {});
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
