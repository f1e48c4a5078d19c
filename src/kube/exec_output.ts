/**
 * The stdout and stderr streams of an exec session (see exec.ts): readable streams fed by the
 * socket's reader, which reads the socket only while every stream has room, so a slow reader makes
 * the server (and the command) wait instead of filling memory.
 *
 * @module
 */

/** Bytes of stdout (and of stderr) queued for a slow reader before the socket is no longer read,
 * so the server (and the command) wait for the reader instead of memory filling up. */
export const OUTPUT_HIGH_WATER = 1024 * 1024;

/** A readable side fed by the socket; chunks are copies of the received messages (which are
 * views of the socket's receive buffer), dropped uncopied once the reader has cancelled. `onRoom`
 * runs when its reader wants more. */
export function outputStream(onRoom: () => void) {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let open = true;
  const stream = new ReadableStream<Uint8Array>({
    start: (c) => void (controller = c),
    pull: onRoom,
    cancel: () => {
      open = false;
      onRoom();
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark: OUTPUT_HIGH_WATER }));
  return {
    stream,
    /** Whether more may be read from the socket for this stream. */
    hasRoom: () => !open || (controller.desiredSize ?? 0) > 0,
    push(bytes: Uint8Array) {
      if (open && bytes.length) controller.enqueue(bytes.slice());
    },
    close() {
      if (!open) return;
      open = false;
      controller.close();
    },
  };
}
