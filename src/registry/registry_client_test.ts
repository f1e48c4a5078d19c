import assert from "node:assert/strict";
import { checkRegistry, manifestExists, RegistryError } from "./registry_client.ts";

/** A registry that holds `team/app:v1` and challenges as `scheme` says: Basic for robot/s3cret,
 * or Bearer with a token service on the same port that takes those credentials. */
function registry(scheme: "basic" | "bearer") {
  const basic = `Basic ${btoa("robot:s3cret")}`;
  const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
  }, (request): Response => {
    const url = new URL(request.url);
    const auth = request.headers.get("authorization");
    if (url.pathname === "/token") {
      if (auth !== basic) return new Response("denied", { status: 401 });
      assert.equal(url.searchParams.get("service"), "test-registry");
      return Response.json({ token: `t-${url.searchParams.get("scope") ?? "none"}` });
    }
    const allowed = scheme === "basic" ? auth === basic : auth?.startsWith("Bearer t-") === true;
    if (!allowed) {
      const origin: string = `http://127.0.0.1:${server.addr.port}`;
      return new Response(null, {
        status: 401,
        headers: {
          "www-authenticate": scheme === "basic"
            ? 'Basic realm="test"'
            : `Bearer realm="${origin}/token",service="test-registry"`,
        },
      });
    }
    if (url.pathname === "/v2/") return Response.json({});
    if (url.pathname === "/v2/team/app/manifests/v1") return new Response(null, { status: 200 });
    return new Response(null, { status: 404 });
  });
  return { server, host: `127.0.0.1:${server.addr.port}` };
}

const robot = { username: "robot", password: "s3cret" };

for (const scheme of ["basic", "bearer"] as const) {
  Deno.test(`a tag is found or not, answering a ${scheme} challenge`, async () => {
    const { server, host } = registry(scheme);
    try {
      const access = { credential: robot, insecure: true };
      const ref = (tag: string) => ({ registry: host, repository: "team/app", tag });
      assert.equal(await manifestExists(ref("v1"), access), true);
      assert.equal(await manifestExists(ref("v2"), access), false);
      await checkRegistry(host, access);
      const wrong = { credential: { username: "robot", password: "no" }, insecure: true };
      await assert.rejects(
        manifestExists(ref("v1"), wrong),
        (error: RegistryError) => /robot/.test(error.message) && !/"no"|:no/.test(error.message),
      );
      await assert.rejects(checkRegistry(host, { insecure: true }), /wants credentials/);
    } finally {
      await server.shutdown();
    }
  });
}

Deno.test("a registry that cannot be reached is named", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await assert.rejects(
    checkRegistry(`127.0.0.1:${port}`, { insecure: true }),
    (error: RegistryError) => error.message.includes(`http://127.0.0.1:${port}`),
  );
});
