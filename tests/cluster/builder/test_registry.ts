/**
 * For the executor's tests: Debian's `docker-registry` (the registry distribution) on a free
 * loopback port, plain HTTP with htpasswd basic auth (robot/s3cret, the embedded cluster's
 * credentials), its storage in a temporary directory; and the busybox base image of the
 * embedded catalogue pushed to it as `library/busybox` (registry/mirror.ts, as the embedded
 * cluster's registry mirrors it).
 *
 * @module
 */
import { findHostTools } from "../kubelet/host_tools.ts";
import { pushCatalogueImages } from "../registry/mirror.ts";
import type { Registry } from "./registry_push.ts";

export const ROBOT = { username: "robot", password: "s3cret" };

/** A running registry; `stop` ends it and removes its storage. */
export interface TestRegistry {
  /** `127.0.0.1:port`. */
  host: string;
  registry: Registry;
  dir: string;
  stop(): Promise<void>;
}

/** Starts the registry; throws naming the packages when it is not installed. */
export async function startRegistry(): Promise<TestRegistry> {
  const dir = await Deno.makeTempDir({ prefix: "kaniko-registry-" });
  const hash = await new Deno.Command("htpasswd", {
    args: ["-Bbn", ROBOT.username, ROBOT.password],
    stdout: "piped",
  }).output().catch(() => {
    throw new Error("htpasswd not found: apt-get install apache2-utils");
  });
  await Deno.writeFile(`${dir}/htpasswd`, hash.stdout);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await Deno.writeTextFile(
    `${dir}/config.yml`,
    [
      "version: 0.1",
      "log: { level: error }",
      `storage: { filesystem: { rootdirectory: ${dir}/data }, delete: { enabled: true } }`,
      `http: { addr: 127.0.0.1:${port} }`,
      `auth: { htpasswd: { realm: test, path: ${dir}/htpasswd } }`,
    ].join("\n") + "\n",
  );
  const child = new Deno.Command("/usr/bin/docker-registry", {
    args: ["serve", `${dir}/config.yml`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const host = `127.0.0.1:${port}`;
  const registry = { url: `http://${host}`, ...ROBOT };
  for (let attempt = 0;; attempt++) {
    const up = await fetch(`${registry.url}/v2/`).then(async (r) => {
      await r.body?.cancel();
      return true;
    }, () => false);
    if (up) break;
    if (attempt > 200) {
      child.kill();
      throw new Error(
        `docker-registry did not answer on ${host}: ${await new Response(child.stderr).text()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host,
    registry,
    dir,
    stop: async () => {
      child.kill();
      await child.stderr.cancel();
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Pushes the catalogue's busybox (one layer) as `library/busybox` with its tags. */
export async function pushBusybox(registry: Registry, dir: string): Promise<void> {
  await pushCatalogueImages(
    registry,
    ["docker.io/library/busybox"],
    `${dir}/mirror`,
    findHostTools(),
  );
}
