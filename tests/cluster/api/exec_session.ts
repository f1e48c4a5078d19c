/**
 * One exec or attach session over the channel protocol: the empty frame that tells the client
 * the streams are open, stdout/stderr forwarded as they come, stdin (and v5's close-stdin)
 * passed to the process, then exactly one channel-3 Status and a close 1000.
 *
 * Exec faults act here: after `afterBytes` bytes of output, `exec-drop` cuts the connection
 * (no close frame, no status) and `exec-stall` goes silent. Either way, and whenever the client
 * goes away first, the process is left running, as it is when a real connection breaks: its
 * stdin is closed and its output drained and discarded.
 *
 * @module
 */
import type { ContainerProcess } from "../contract.ts";
import {
  Channel,
  channelFrame,
  decodeClientFrame,
  exitStatus,
  statusFrame,
  type Subprotocol,
} from "./channels.ts";
import type { ExecFault } from "./faults.ts";
import type { WebSocketConnection } from "./websocket.ts";

/** What a session carries. */
export interface SessionOptions {
  socket: WebSocketConnection;
  protocol: Subprotocol;
  process: ContainerProcess;
  stdout: boolean;
  stderr: boolean;
  /** exec reports the exit code; attach ends with Success when the container's output ends, as
   * the kubelet does (clients read the exit code from the pod's status). */
  reportExitCode: boolean;
  fault?: ExecFault;
}

/** Runs the session to its end (status sent, or connection cut or gone). */
export async function runSession(options: SessionOptions): Promise<void> {
  const { socket, protocol, process, fault } = options;
  let forwarded = 0;
  let cut = false;
  const writer = process.stdin?.getWriter();
  const closeStdin = () => writer?.close().catch(() => {});

  const trip = () => {
    cut = true;
    if (fault?.kind === "exec-drop") socket.abort();
    else socket.stall();
    closeStdin();
  };

  /** Forwards output, counting it against the fault; after a cut, output is discarded. */
  const forward = async (channel: number, data: Uint8Array) => {
    if (cut || socket.closed) return;
    if (fault) {
      const room = fault.afterBytes - forwarded;
      if (data.length >= room) {
        if (room > 0) await socket.send(channelFrame(channel, data.subarray(0, room)));
        forwarded += room;
        return trip();
      }
    }
    forwarded += data.length;
    await socket.send(channelFrame(channel, data)).catch(() => {});
  };

  const pump = async (stream: ReadableStream<Uint8Array>, channel: number, wanted: boolean) => {
    for await (const chunk of stream) {
      if (wanted) await forward(channel, chunk);
    }
  };

  const first = options.stdout ? Channel.stdout : options.stderr ? Channel.stderr : undefined;
  if (first !== undefined) await socket.send(channelFrame(first)).catch(() => {});
  if (fault?.afterBytes === 0) trip();

  const input = (async () => {
    for await (const message of socket.messages()) {
      if (cut) continue;
      const frame = decodeClientFrame(message.data, protocol);
      if (frame.kind === "stdin") await writer?.write(frame.data).catch(() => {});
      else if (frame.kind === "close-stdin") closeStdin();
    }
    // The client is gone (v4 clients end stdin this way): the process keeps running.
    closeStdin();
  })();

  await Promise.all([
    pump(process.stdout, Channel.stdout, options.stdout),
    pump(process.stderr, Channel.stderr, options.stderr),
  ]);
  const exitCode = await process.exitCode;
  if (!cut && !socket.closed) {
    const status = exitStatus(options.reportExitCode ? exitCode : 0);
    await socket.send(statusFrame(status)).catch(() => {});
    await socket.close(1000);
  }
  if (!cut) await input;
}
