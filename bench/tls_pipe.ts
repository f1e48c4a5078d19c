/**
 * A reference for the transfer figures: the same archive through one TLS connection on this
 * machine, with nothing of Kubernetes in the way. The host's `tar c` is piped through Deno's TLS
 * client into a Deno TLS server on loopback (the local cluster's certificates, the same TLS stack
 * its API server uses), which pipes it into a local `tar x`. No WebSocket, no API server, no pod.
 *
 * Any HTTPS exec path pays for TLS at least once on each end, and on a 2-core machine both ends
 * share the cores with both tars: the gap between this and a plain `tar c | tar x` is what TLS
 * costs here (docs/design.md, "Why 200 MB stays near 2× here").
 *
 * @module
 */
import { generateTls } from "../tests/cluster/api/tls.ts";

/** A TLS sink on loopback that extracts what each connection sends into a directory. */
export interface TlsPipe extends AsyncDisposable {
  /** Streams a tar of `dir` through TLS into a fresh `tar x` in `into`; resolves when extracted. */
  copy(dir: string, into: string): Promise<void>;
}

/** Starts the TLS server; `await using` stops it. */
export async function startTlsPipe(scratch: string): Promise<TlsPipe> {
  const tls = await generateTls(scratch);
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: tls.certPem,
    key: tls.keyPem,
  });
  const { port } = listener.addr as Deno.NetAddr;
  // One copy at a time: the connection that arrives belongs to the copy waiting for it.
  let waiting: { into: string; done: (error?: Error) => void } | undefined;
  const serving = (async () => {
    for await (const conn of listener) {
      const { into, done } = waiting!;
      const tar = new Deno.Command("tar", {
        args: ["-x", "-f", "-", "-C", into],
        stdin: "piped",
      }).spawn();
      // Plain reads and writes, as the cluster's exec does (streams' pipeTo measured slower).
      // tar x stops reading at the archive's end marker, before the last record's padding.
      const sink = tar.stdin.getWriter();
      const buffer = new Uint8Array(64 * 1024);
      for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
        const written = await sink.write(buffer.slice(0, n)).then(() => true, () => false);
        if (!written) break;
      }
      await sink.close().catch(() => {});
      conn.close();
      const status = await tar.status;
      done(status.success ? undefined : new Error(`tar x into ${into} failed`));
    }
  })();
  return {
    async copy(dir, into) {
      const extracted = new Promise<void>((resolve, reject) => {
        waiting = { into, done: (error) => error ? reject(error) : resolve() };
      });
      const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
      tcp.setNoDelay(true);
      const conn = await Deno.startTls(tcp, { hostname: "127.0.0.1", caCerts: [tls.caPem] });
      const tar = new Deno.Command("tar", {
        // The same 64 KiB records kubehook's packer writes (src/transfer/host_pack.ts).
        args: ["-c", "--blocking-factor=128", "-f", "-", "-C", dir, "."],
        stdout: "piped",
      }).spawn();
      for await (const chunk of tar.stdout) {
        for (let sent = 0; sent < chunk.length;) sent += await conn.write(chunk.subarray(sent));
      }
      conn.close();
      await Promise.all([tar.status, extracted]);
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await serving.catch(() => {});
    },
  };
}
