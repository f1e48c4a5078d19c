/**
 * The executor's side of the registries: which registry and repository an image name means
 * (Docker Hub names go to the `--registry-mirror`, in the embedded cluster its registry, which
 * serves the catalogue as `library/<name>`), the credentials of `$DOCKER_CONFIG/config.json`
 * (basic auth by registry host, as Kaniko reads the mounted dockerconfigjson secret), pulling a
 * manifest, config and layers (to files, digests checked), and Kaniko's push-permission check.
 *
 * Plain HTTP only with `--insecure` (push) or `--insecure-pull`; an HTTPS request that reaches a
 * plain-HTTP registry fails as Go's client words it, so the flag to pass is obvious. Everything
 * read from a registry is bounded: manifests and configs by {@link JSON_LIMIT}, layers by the size
 * their descriptor announces.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { authHeaders, readBounded, type Registry, registryError } from "./registry_push.ts";

/** A parsed image name. */
export interface ImageName {
  /** `host[:port]` as written (or the mirror for Docker Hub names). */
  host: string;
  repository: string;
  /** A tag or a `sha256:` digest. */
  reference: string;
  /** The name as Kaniko prints it. */
  text: string;
}

/** Manifests and configs larger than this are refused: real ones are a few KiB. */
export const JSON_LIMIT = 4 * 1024 * 1024;

const DOCKER_HUB = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);
const MANIFEST_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
];

/** Parses `name` (`busybox`, `busybox:1.36`, `host:5000/a/b@sha256:...`); Docker Hub names
 * resolve to `mirror`, official images under `library/`. */
export function parseImageName(name: string, mirror: string): ImageName {
  let rest = name;
  let reference = "latest";
  const at = rest.indexOf("@");
  if (at >= 0) {
    reference = rest.slice(at + 1);
    rest = rest.slice(0, at);
  } else {
    const colon = rest.lastIndexOf(":");
    if (colon > rest.lastIndexOf("/")) {
      reference = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
    }
  }
  const slash = rest.indexOf("/");
  const first = slash < 0 ? "" : rest.slice(0, slash);
  const hasHost = slash >= 0 &&
    (first.includes(".") || first.includes(":") || first === "localhost");
  let host = hasHost ? first : "docker.io";
  let repository = hasHost ? rest.slice(slash + 1) : rest;
  if (DOCKER_HUB.has(host)) {
    host = mirror;
    if (!repository.includes("/")) repository = `library/${repository}`;
  }
  if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(repository)) {
    throw new Error(`could not parse reference: ${name}`);
  }
  return { host, repository, reference, text: name };
}

/** Basic-auth credentials by registry host, from a Docker config.json (`auths`). */
export function readDockerConfig(
  text: string,
): Map<string, { username: string; password: string }> {
  const result = new Map<string, { username: string; password: string }>();
  const auths = (JSON.parse(text).auths ?? {}) as Record<
    string,
    { auth?: string; username?: string; password?: string }
  >;
  for (const [key, entry] of Object.entries(auths)) {
    // Keys may be URLs (`https://host/v1/`); the host is what matches.
    const host = key.replace(/^[a-z]+:\/\//, "").replace(/\/.*$/, "");
    if (entry.auth) {
      const decoded = atob(entry.auth);
      const colon = decoded.indexOf(":");
      result.set(host, { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) });
    } else if (entry.username) {
      result.set(host, { username: entry.username, password: entry.password ?? "" });
    }
  }
  return result;
}

/** The registries the executor talks to, with their credentials and schemes. */
export class Registries {
  constructor(
    readonly credentials: Map<string, { username: string; password: string }>,
    readonly insecurePush: boolean,
    readonly insecurePull: boolean,
    /** `--insecure-registry`: hosts spoken to over plain HTTP both ways. */
    readonly insecureHosts: readonly string[] = [],
  ) {}

  /** The registry of `host`, plain HTTP when `--insecure`(-pull) or `--insecure-registry` say
   * so (Kaniko needs both: `--insecure` alone still checks push access over HTTPS). */
  registry(host: string, push: boolean): Registry {
    const plain = this.insecureHosts.includes(host) ||
      (push ? this.insecurePush : this.insecurePull);
    return { url: `${plain ? "http" : "https"}://${host}`, ...this.credentials.get(host) };
  }
}

/** A pulled image: its config and layers on disk. */
export interface PulledBase {
  config: Record<string, unknown>;
  layers: { digest: string; size: number; mediaType: string; path: string }[];
}

/** `fetch` that words a transport failure as Go does, naming a plain-HTTP registry met with
 * HTTPS. */
export async function registryFetch(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    const method = (init.method ?? "GET").toUpperCase();
    const verb = method[0] + method.slice(1).toLowerCase();
    if (url.startsWith("https://")) {
      const plain = await fetch(url.replace(/^https:/, "http:"), { method: "HEAD" }).then(
        async (r) => {
          await r.body?.cancel();
          return true;
        },
        () => false,
      );
      if (plain) {
        throw new Error(`${verb} "${url}": http: server gave HTTP response to HTTPS client`);
      }
    }
    throw new Error(`${verb} "${url}": ${(error as Error).message}`);
  }
}

/** Fetches `name`'s manifest (an index resolves to its linux/amd64 image), config and layers
 * into `dir`. */
export async function pullImage(
  registries: Registries,
  name: ImageName,
  dir: string,
): Promise<PulledBase> {
  const registry = registries.registry(name.host, false);
  const headers = authHeaders(registry);
  const get = async (path: string, accept: string) => {
    const url = `${registry.url}/v2/${name.repository}/${path}`;
    const response = await registryFetch(url, { headers: { ...headers, accept } });
    if (!response.ok) throw await registryError("GET", url, response);
    return response;
  };
  const json = async (path: string, accept: string) => {
    const bytes = await readBounded(await get(path, accept), JSON_LIMIT + 1);
    if (bytes.length > JSON_LIMIT) {
      throw new Error(`${path} of ${name.text} is larger than ${JSON_LIMIT} bytes`);
    }
    return JSON.parse(new TextDecoder().decode(bytes));
  };
  let manifest = await json(`manifests/${name.reference}`, MANIFEST_TYPES.join(", "));
  if (Array.isArray(manifest.manifests)) {
    const chosen =
      manifest.manifests.find((m: { platform?: { os?: string; architecture?: string } }) =>
        m.platform?.os === "linux" && m.platform?.architecture === "amd64"
      ) ?? manifest.manifests[0];
    if (!chosen) throw new Error(`${name.text}: the image index lists no image`);
    manifest = await json(`manifests/${chosen.digest}`, MANIFEST_TYPES.join(", "));
  }
  const config = await json(`blobs/${manifest.config.digest}`, "*/*");
  const layers = [];
  for (const layer of manifest.layers as { digest: string; size: number; mediaType: string }[]) {
    const path = `${dir}/${layer.digest.replace(":", "-")}`;
    await download(await get(`blobs/${layer.digest}`, "*/*"), path, layer.digest, layer.size);
    layers.push({ ...layer, path });
  }
  return { config, layers };
}

/** Writes `response`'s body to `path`, refusing more bytes than `size` and a wrong digest. */
async function download(
  response: Response,
  path: string,
  digest: string,
  size: number,
): Promise<void> {
  const hash = createHash("sha256");
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  let written = 0;
  try {
    for await (const chunk of response.body!) {
      written += chunk.length;
      if (written > size) {
        throw new Error(`blob ${digest} is larger than the ${size} bytes its manifest says`);
      }
      hash.update(chunk);
      for (let at = 0; at < chunk.length;) at += await file.write(chunk.subarray(at));
    }
  } finally {
    file.close();
  }
  const actual = `sha256:${hash.digest("hex")}`;
  if (actual !== digest) throw new Error(`blob ${digest} arrived with digest ${actual}`);
}

/** Kaniko's check before building: may these credentials push to `name`'s repository? An
 * upload is started (and cancelled); a refusal throws. */
export async function checkPushPermission(registries: Registries, name: ImageName): Promise<void> {
  const registry = registries.registry(name.host, true);
  const url = `${registry.url}/v2/${name.repository}/blobs/uploads/`;
  const response = await registryFetch(url, { method: "POST", headers: authHeaders(registry) });
  if (response.status >= 400) throw await registryError("POST", url, response);
  await response.body?.cancel();
  const location = response.headers.get("location");
  if (location) {
    await fetch(new URL(location, registry.url), {
      method: "DELETE",
      headers: authHeaders(registry),
    })
      .then((r) => r.body?.cancel(), () => {});
  }
}
