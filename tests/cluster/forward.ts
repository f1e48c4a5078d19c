/**
 * A TCP forwarder on the host's loopback: every connection it accepts is spliced to one target, a
 * TCP address or a Unix socket. The clusters use it to let host processes reach a server that
 * lives in the node's network namespace. Because HTTP servers accept absolute-form request
 * targets (`GET http://registry.local:5000/v2/ HTTP/1.1`), a forwarder in front of one HTTP
 * server also works as the `http_proxy` for requests to it by any name.
 *
 * {@link startUnixForwarder} does the same from a Unix socket. Either may be given a
 * `beforeConnect` step that each connection waits for before its target is dialled: a server
 * that is started on first use (the embedded cluster's registry) sits behind one.
 *
 * @example
 * ```ts
 * await using forward = startForwarder({ hostname: "127.0.0.1", port: 5000 });
 * const response = await fetch(`http://127.0.0.1:${forward.port}/v2/`);
 * await response.body?.cancel();
 * ```
 * @module
 */

/** Where a forwarder's connections go. */
export type ForwardTarget = { hostname: string; port: number } | { path: string };

/** How a forwarder treats each connection. */
export interface ForwardOptions {
  /** Awaited before the target is dialled; when it fails, the client's connection is closed. */
  beforeConnect?: () => Promise<void>;
}

/** A running forwarder; disposing it closes the listener and every spliced connection. */
export interface Forwarder extends AsyncDisposable {
  /** The loopback port it listens on. */
  port: number;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  close(): Promise<void>;
}

/** A running forwarder from a Unix socket; closing it also removes the socket file. */
export interface UnixForwarder extends AsyncDisposable {
  path: string;
  close(): Promise<void>;
}

/** Listens on a free loopback port and splices each connection to `target`. */
export function startForwarder(target: ForwardTarget, options: ForwardOptions = {}): Forwarder {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const close = serve(listener, target, options);
  return { port, url: `http://127.0.0.1:${port}`, close, [Symbol.asyncDispose]: close };
}

/** Listens on the Unix socket `path` (made anew) and splices each connection to `target`. */
export function startUnixForwarder(
  path: string,
  target: ForwardTarget,
  options: ForwardOptions = {},
): UnixForwarder {
  try {
    Deno.removeSync(path);
  } catch {
    // No stale socket there.
  }
  const listener = Deno.listen({ transport: "unix", path });
  const stop = serve(listener, target, options);
  let closing: Promise<void> | undefined;
  const close = () => closing ??= stop().then(() => Deno.remove(path).catch(() => {}));
  return { path, close, [Symbol.asyncDispose]: close };
}

/** Accepts from `listener` until the returned close is called. */
function serve(
  listener: Deno.Listener,
  target: ForwardTarget,
  options: ForwardOptions,
): () => Promise<void> {
  const open = new Set<Deno.Conn>();
  const splices = new Set<Promise<void>>();
  let closed = false;
  const splice = async (client: Deno.Conn) => {
    open.add(client);
    let upstream: Deno.Conn | undefined;
    try {
      await options.beforeConnect?.();
      // Closed while the target was being readied: the client's connection is gone already.
      if (closed) return;
      upstream = "path" in target
        ? await Deno.connect({ transport: "unix", path: target.path })
        : await Deno.connect({ hostname: target.hostname, port: target.port });
      open.add(upstream);
      // The client's end of input passes on (the server then ends too); once the server is done,
      // both connections close below, which also ends the client's direction.
      client.readable.pipeTo(upstream.writable).catch(() => {});
      await upstream.readable.pipeTo(client.writable).catch(() => {});
    } catch {
      // The target is down: the client sees its connection close, as with no server at all.
    } finally {
      for (const conn of [client, upstream]) {
        if (!conn || !open.delete(conn)) continue;
        try {
          conn.close();
        } catch {
          // Already closed by its pipe.
        }
      }
    }
  };
  const accepting = (async () => {
    for await (const client of listener) {
      const running = splice(client);
      splices.add(running);
      running.finally(() => splices.delete(running));
    }
  })().catch(() => {});
  let closing: Promise<void> | undefined;
  return () =>
    closing ??= (async () => {
      closed = true;
      listener.close();
      await accepting;
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // Closed meanwhile.
        }
      }
      open.clear();
      await Promise.all(splices);
    })();
}
