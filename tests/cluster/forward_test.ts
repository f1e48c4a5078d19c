/** The forwarders: TCP and Unix listeners in front of an HTTP server, as a proxy by any host
 * name, and the step each connection waits for (a server started on first use). */
import assert from "node:assert/strict";
import { startForwarder, startUnixForwarder } from "./forward.ts";

Deno.test("forwarders splice to a Unix socket, waiting for beforeConnect; a failing one closes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "forward-test-" });
  const server = Deno.serve(
    { path: `${dir}/server.sock`, onListen: () => {} },
    (request) => new Response(`${request.method} ${request.url}`),
  );
  let started = 0;
  let ready: Promise<void> | undefined;
  const beforeConnect = () =>
    ready ??= (async () => {
      started++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    })();
  const tcp = startForwarder({ path: `${dir}/server.sock` }, { beforeConnect });
  const unix = startUnixForwarder(`${dir}/front.sock`, { path: `${dir}/server.sock` }, {
    beforeConnect,
  });
  const refusing = startForwarder({ path: `${dir}/server.sock` }, {
    beforeConnect: () => Promise.reject(new Error("cannot start")),
  });
  const viaProxy = Deno.createHttpClient({ proxy: { url: tcp.url } });
  const viaUnix = Deno.createHttpClient({ proxy: { transport: "unix", path: unix.path } });
  const viaRefusing = Deno.createHttpClient({ proxy: { url: refusing.url } });
  try {
    const answers = await Promise.all([
      fetch("http://registry.local:5000/v2/", { client: viaProxy }).then((r) => r.text()),
      fetch("http://registry.local:5000/v2/", { client: viaUnix }).then((r) => r.text()),
    ]);
    // The absolute-form target reaches the server with the name the client used.
    assert.deepEqual(answers, [
      "GET http://registry.local:5000/v2/",
      "GET http://registry.local:5000/v2/",
    ]);
    assert.equal(started, 1);
    await assert.rejects(fetch("http://registry.local:5000/v2/", { client: viaRefusing }));
  } finally {
    for (const client of [viaProxy, viaUnix, viaRefusing]) client.close();
    await Promise.all([tcp.close(), unix.close(), refusing.close()]);
    await server.shutdown();
  }
  await assert.rejects(Deno.lstat(`${dir}/front.sock`), "the Unix forwarder removes its socket");
  await Deno.remove(dir, { recursive: true });
});
