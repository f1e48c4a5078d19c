/**
 * The framing of Kubernetes' exec WebSocket protocols (`v5.channel.k8s.io`, `v4.channel.k8s.io`):
 * every binary message starts with a channel byte; channel 3 carries the final Status that tells
 * the exit code. Pure, so it is tested without a cluster.
 *
 * @module
 */
import type { V1Status } from "@kubernetes/client-node";
import { KubeApiError } from "./errors.ts";

/** Channel numbers (first byte of each message). */
export const Channel = {
  stdin: 0,
  stdout: 1,
  stderr: 2,
  status: 3,
  resize: 4,
  /** v5 only, client to server: the next byte names a stream to close. */
  close: 255,
} as const;

/** The largest stdin payload per message: the API server's own frames are no bigger. */
export const MAX_STDIN_PAYLOAD = 64 * 1024;

/** v5's "close stdin": the process sees EOF while stdout and stderr go on. */
export const CLOSE_STDIN_FRAME: Uint8Array = Uint8Array.of(Channel.close, Channel.stdin);

const STDIN_PREFIX = Uint8Array.of(Channel.stdin);

/** Splits `data` into stdin messages of at most {@link MAX_STDIN_PAYLOAD} bytes each, as parts:
 * the stdin channel byte and a view of `data`. Nothing is copied here; the WebSocket joins the
 * parts into the frame it writes. */
export function* stdinMessages(data: Uint8Array): Generator<Uint8Array[]> {
  for (let offset = 0; offset < data.length; offset += MAX_STDIN_PAYLOAD) {
    yield [STDIN_PREFIX, data.subarray(offset, offset + MAX_STDIN_PAYLOAD)];
  }
}

/** The exit code in a channel-3 Status: 0 for Success, N for NonZeroExitCode. Any other failure
 * (InternalError: the command could not start, ...) throws a {@link KubeApiError} for `path`. */
export function exitCodeFromStatus(payload: Uint8Array, path: string): number {
  const text = new TextDecoder().decode(payload);
  let status: V1Status;
  try {
    status = JSON.parse(text);
  } catch {
    throw new KubeApiError("GET", path, 500, `the exec status is not JSON: ${text}`);
  }
  if (status.status === "Success") return 0;
  if (status.reason === "NonZeroExitCode") {
    const cause = status.details?.causes?.find((c) => c.reason === "ExitCode");
    const code = Number(cause?.message);
    if (Number.isInteger(code)) return code;
  }
  throw new KubeApiError("GET", path, status.code ?? 500, status);
}
