/**
 * A minimal HTTP CONNECT proxy for tests: it records each tunnel's target, then splices the two
 * connections. `refuse` makes it answer every CONNECT with that status line instead.
 *
 * @module
 */

/** A running proxy; `await using` stops it and every tunnel. */
export interface ConnectProxy extends AsyncDisposable {
  url: string;
  /** `host:port` of every tunnel asked for, in order. */
  tunnels: string[];
}

export function startConnectProxy(options: { refuse?: string } = {}): ConnectProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tunnels: string[] = [];
  const open = new Set<Deno.Conn>();
  const running = new Set<Promise<void>>();
  const serve = async (client: Deno.Conn) => {
    open.add(client);
    let upstream: Deno.Conn | undefined;
    try {
      const head = await readHead(client);
      const target = /^CONNECT (\S+) HTTP\/1\.1\r\n/.exec(head)?.[1];
      if (!target) return;
      tunnels.push(target);
      if (options.refuse) {
        await client.write(new TextEncoder().encode(`HTTP/1.1 ${options.refuse}\r\n\r\n`));
        return;
      }
      const [, host, port] = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target)!;
      upstream = await Deno.connect({ hostname: host, port: Number(port) });
      open.add(upstream);
      await client.write(new TextEncoder().encode("HTTP/1.1 200 Connection established\r\n\r\n"));
      await Promise.all([
        client.readable.pipeTo(upstream.writable).catch(() => {}),
        upstream.readable.pipeTo(client.writable).catch(() => {}),
      ]);
    } catch {
      // A side went away: the tunnel ends.
    } finally {
      for (const conn of [client, upstream]) {
        if (!conn) continue;
        open.delete(conn);
        try {
          conn.close();
        } catch {
          // Already closed by the pipe.
        }
      }
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      const done: Promise<void> = serve(conn).finally(() => running.delete(done));
      running.add(done);
    }
  })();
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    tunnels,
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      await accepting.catch(() => {});
      await Promise.allSettled([...running]);
    },
  };
}

async function readHead(conn: Deno.Conn): Promise<string> {
  const byte = new Uint8Array(1);
  let head = "";
  while (!head.endsWith("\r\n\r\n")) {
    if ((await conn.read(byte)) === null) return head;
    head += String.fromCharCode(byte[0]);
  }
  return head;
}
