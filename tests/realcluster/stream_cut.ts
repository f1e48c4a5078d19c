/**
 * Where the front door's stream faults cut, counted as the embedded cluster counts: `exec-drop`
 * and `exec-stall` after `afterBytes` bytes of stdout/stderr data (the WebSocket frames' payload
 * without the channel byte: tests/cluster/api/exec_session.ts), `log-drop` after that many bytes
 * of log text (the chunked body without its framing: tests/cluster/api/logs.ts). The bytes before
 * the cut pass unchanged; the frame or chunk the cut falls in is re-framed to hold only the bytes
 * before it, so the client gets exactly what the embedded cluster would have sent.
 *
 * ```ts
 * const cutter = webSocketCutter(100);
 * const { pass, cut } = cutter.push(bytesFromServer);
 * ```
 * @module
 */
import { concat } from "../../src/bytes.ts";

/** What to send on, and whether the cut point was reached (nothing more may be sent). */
export interface CutResult {
  pass: Uint8Array;
  cut: boolean;
}

/** Feeds a server's bytes in as they come, in order. */
export interface Cutter {
  push(chunk: Uint8Array): CutResult;
}

const STDOUT = 1;
const STDERR = 2;
const OPCODE_CONTINUATION = 0;
const OPCODE_BINARY = 2;
const CRLF = new TextEncoder().encode("\r\n");

/** A server (unmasked) WebSocket frame header of a binary frame with `length` payload bytes. */
function frameHeader(fin: boolean, opcode: number, length: number): Uint8Array {
  const first = (fin ? 0x80 : 0) | opcode;
  if (length < 126) return Uint8Array.of(first, length);
  if (length < 65536) return Uint8Array.of(first, 126, length >> 8, length & 255);
  const header = new Uint8Array(10);
  header[0] = first;
  header[1] = 127;
  new DataView(header.buffer).setBigUint64(2, BigInt(length));
  return header;
}

/** Parses one frame at the start of `bytes`; undefined while it is incomplete. */
function parseFrame(bytes: Uint8Array):
  | { fin: boolean; opcode: number; payload: Uint8Array; size: number }
  | undefined {
  if (bytes.length < 2) return undefined;
  let offset = 2;
  let length = bytes[1] & 0x7f;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (length === 126) {
    if (bytes.length < 4) return undefined;
    length = view.getUint16(2);
    offset = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return undefined;
    length = Number(view.getBigUint64(2));
    offset = 10;
  }
  // Servers never mask; a masking key is skipped all the same.
  if (bytes[1] & 0x80) offset += 4;
  if (bytes.length < offset + length) return undefined;
  return {
    fin: (bytes[0] & 0x80) !== 0,
    opcode: bytes[0] & 0x0f,
    payload: bytes.subarray(offset, offset + length),
    size: offset + length,
  };
}

/** Counts stdout/stderr data in the server's frames of an exec or attach session (channel
 * protocol v4/v5: each binary message starts with its channel byte) and cuts after
 * `afterBytes`. The empty frame that opens the streams passes; with `afterBytes` 0 the cut
 * follows it. */
export function webSocketCutter(afterBytes: number): Cutter {
  let room = afterBytes;
  let buffer: Uint8Array = new Uint8Array(0);
  /** The channel of the message being continued (fragmented messages), or undefined. */
  let channel: number | undefined;
  let done = false;
  return {
    push(chunk) {
      if (done) return { pass: new Uint8Array(0), cut: true };
      buffer = buffer.length ? concat([buffer, chunk]) : chunk;
      const out: Uint8Array[] = [];
      while (true) {
        const frame = parseFrame(buffer);
        if (!frame) break;
        const raw = buffer.subarray(0, frame.size);
        buffer = buffer.subarray(frame.size);
        let data = frame.payload;
        let prefix: Uint8Array = new Uint8Array(0);
        if (frame.opcode === OPCODE_BINARY) {
          channel = frame.payload[0];
          prefix = frame.payload.subarray(0, 1);
          data = frame.payload.subarray(1);
        } else if (frame.opcode !== OPCODE_CONTINUATION) {
          out.push(raw);
          continue;
        }
        const counted = channel === STDOUT || channel === STDERR;
        if (frame.fin) channel = undefined;
        if (!counted || (data.length === 0 && room > 0) || data.length < room) {
          if (counted) room -= data.length;
          out.push(raw);
          continue;
        }
        if (data.length === 0) out.push(raw);
        else if (room > 0) {
          out.push(frameHeader(frame.fin, frame.opcode, prefix.length + room), prefix);
          out.push(data.subarray(0, room));
        }
        done = true;
        break;
      }
      return { pass: concat(out), cut: done };
    },
  };
}

/** Counts the text of a chunked HTTP body (a followed log) and cuts after `afterBytes`; with
 * `chunked` false the body's bytes are counted as they are. */
export function bodyCutter(afterBytes: number, chunked: boolean): Cutter {
  let room = afterBytes;
  let done = false;
  let buffer: Uint8Array = new Uint8Array(0);
  /** Data bytes left in the current chunk (then its CRLF), or undefined between chunks. */
  let inChunk: number | undefined;
  const decoder = new TextDecoder();
  return {
    push(chunk) {
      if (done) return { pass: new Uint8Array(0), cut: true };
      if (!chunked) {
        if (chunk.length < room) {
          room -= chunk.length;
          return { pass: chunk, cut: false };
        }
        done = true;
        return { pass: chunk.subarray(0, room), cut: true };
      }
      buffer = buffer.length ? concat([buffer, chunk]) : chunk;
      const out: Uint8Array[] = [];
      while (buffer.length) {
        if (inChunk === undefined) {
          const lineEnd = buffer.indexOf(10);
          if (lineEnd < 0) break;
          const size = parseInt(decoder.decode(buffer.subarray(0, lineEnd)).split(";")[0], 16);
          // The last chunk (and trailers) pass as they are.
          if (!(size > 0)) {
            out.push(buffer);
            buffer = new Uint8Array(0);
            break;
          }
          if (size >= room) {
            if (buffer.length < lineEnd + 1 + room) break;
            if (room > 0) {
              const text = buffer.subarray(lineEnd + 1, lineEnd + 1 + room);
              out.push(new TextEncoder().encode(`${room.toString(16)}\r\n`), text, CRLF);
            }
            done = true;
            break;
          }
          room -= size;
          inChunk = size + 2;
          out.push(buffer.subarray(0, lineEnd + 1));
          buffer = buffer.subarray(lineEnd + 1);
          continue;
        }
        const take = Math.min(inChunk, buffer.length);
        out.push(buffer.subarray(0, take));
        buffer = buffer.subarray(take);
        inChunk -= take;
        if (inChunk === 0) inChunk = undefined;
      }
      return { pass: concat(out), cut: done };
    },
  };
}
