/**
 * The Kubernetes remote-command channel protocol over WebSocket: subprotocol negotiation
 * (`v5.channel.k8s.io`, `v4.channel.k8s.io`), channel-prefixed binary frames (0 stdin,
 * 1 stdout, 2 stderr, 3 status, 4 resize, 255 close in v5) and the `Status` sent on channel 3.
 *
 * @module
 */

/** The subprotocols this cluster speaks, best first. */
export const SUBPROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"] as const;
export type Subprotocol = typeof SUBPROTOCOLS[number];

/** Channel numbers. */
export const Channel = { stdin: 0, stdout: 1, stderr: 2, status: 3, resize: 4, close: 255 };

/** Picks the best subprotocol the client offered in `Sec-WebSocket-Protocol` (one header or
 * several, comma-separated with or without spaces), or undefined when none is spoken here. */
export function negotiateSubprotocol(header: string | null): Subprotocol | undefined {
  const offered = (header ?? "").split(",").map((p) => p.trim());
  return SUBPROTOCOLS.find((p) => offered.includes(p));
}

/** A frame carrying `data` on `channel`. */
export function channelFrame(channel: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const frame = new Uint8Array(data.length + 1);
  frame[0] = channel;
  frame.set(data, 1);
  return frame;
}

/** What a client frame means to the session. */
export type ClientFrame =
  | { kind: "stdin"; data: Uint8Array }
  | { kind: "close-stdin" }
  | { kind: "resize"; width: number; height: number }
  | { kind: "ignored" };

/** Decodes a frame from the client under `protocol`. */
export function decodeClientFrame(frame: Uint8Array, protocol: Subprotocol): ClientFrame {
  if (frame.length === 0) return { kind: "ignored" };
  const data = frame.subarray(1);
  switch (frame[0]) {
    case Channel.stdin:
      return { kind: "stdin", data };
    case Channel.resize: {
      try {
        const size = JSON.parse(new TextDecoder().decode(data));
        return { kind: "resize", width: Number(size.Width), height: Number(size.Height) };
      } catch {
        return { kind: "ignored" };
      }
    }
    case Channel.close:
      return protocol === "v5.channel.k8s.io" && data[0] === Channel.stdin
        ? { kind: "close-stdin" }
        : { kind: "ignored" };
    default:
      return { kind: "ignored" };
  }
}

/** The channel-3 Status for an exit code (no kind/apiVersion, as the kubelet sends it). */
export function exitStatus(exitCode: number): Record<string, unknown> {
  if (exitCode === 0) return { metadata: {}, status: "Success" };
  return {
    metadata: {},
    status: "Failure",
    message: `command terminated with non-zero exit code: error executing command ` +
      `[exit status ${exitCode}], exit code ${exitCode}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: String(exitCode) }] },
  };
}

/** The channel-3 Status for a command that could not be started. */
export function startFailureStatus(code: number, message: string): Record<string, unknown> {
  return {
    metadata: {},
    status: "Failure",
    message: code === 500 ? `Internal error occurred: ${message}` : message,
    reason: code === 500 ? "InternalError" : "BadRequest",
    details: { causes: [{ message }] },
    code,
  };
}

/** A channel-3 frame carrying `status` as JSON. */
export function statusFrame(status: Record<string, unknown>): Uint8Array {
  return channelFrame(Channel.status, new TextEncoder().encode(JSON.stringify(status)));
}
