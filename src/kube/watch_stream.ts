/**
 * Decodes a watch response: newline-delimited JSON events arriving in chunks that split lines
 * anywhere (even inside a UTF-8 character). An ERROR event becomes a thrown {@link KubeApiError}
 * (usually 410 Expired: re-list and watch again).
 *
 * @module
 */
import type { V1Status } from "@kubernetes/client-node";
import { KubeApiError } from "./errors.ts";

/** One change of a watched object. */
export interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK";
  object: T;
}

/** Yields the events of a watch body until it ends. A connection that breaks or is aborted
 * mid-stream ends the iteration like a server-side timeout does: callers resume the watch from the
 * last resourceVersion they saw, and a server that is really gone fails that next request.
 * `signal` is the request's: the pipe is tied to it too, because a fetch body aborted while the
 * pipe waits on it does not always pass the abort on (seen with Deno 2.9.6: 1 pipe in 30). */
export async function* watchEvents<T>(
  body: ReadableStream<Uint8Array>,
  path: string,
  signal?: AbortSignal,
): AsyncGenerator<WatchEvent<T>> {
  const reader = body.pipeThrough(new TextDecoderStream(), { signal }).getReader();
  let partial = "";
  try {
    while (true) {
      let chunk: ReadableStreamReadResult<string>;
      try {
        chunk = await reader.read();
      } catch {
        return;
      }
      if (chunk.done) break;
      const lines = (partial + chunk.value).split("\n");
      partial = lines.pop()!;
      for (const line of lines) if (line.trim()) yield decodeEvent<T>(line, path);
    }
    if (partial.trim()) yield decodeEvent<T>(partial, path);
  } finally {
    await reader.cancel().catch(() => {});
  }
}

function decodeEvent<T>(line: string, path: string): WatchEvent<T> {
  let event: { type?: string; object?: unknown };
  try {
    event = JSON.parse(line);
  } catch {
    throw new KubeApiError("GET", path, 500, `the watch sent a line that is not JSON: ${line}`);
  }
  if (event.type === "ERROR") {
    const status = event.object as V1Status;
    throw new KubeApiError("GET", path, status?.code ?? 410, status);
  }
  return event as WatchEvent<T>;
}
