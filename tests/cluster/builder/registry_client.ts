/**
 * Pulling from registries, for both of the embedded cluster's clients: the Kaniko executor (its
 * base images) and the kubelet (images pushed to the cluster's registry, kubelet/registry_pull.ts).
 *
 * What both use: resolving a reference to a manifest (an index resolves to the image of this
 * machine's platform) and its config ({@link resolveImage}), and fetching a layer blob to a file,
 * its size and digest checked ({@link downloadBlob}). What the executor adds: which registry and
 * repository an image name means (Docker Hub names are `index.docker.io/library/<name>`, as
 * go-containerregistry reads them; `--registry-mirror` is the executor's business), the
 * credentials of `$DOCKER_CONFIG/config.json` (basic auth by registry host, as Kaniko reads the
 * mounted dockerconfigjson secret), and Kaniko's push-permission check.
 *
 * Plain HTTP only with `--insecure` (push) or `--insecure-pull`; an HTTPS request that reaches a
 * plain-HTTP registry fails as Go's client words it, so the flag to pass is obvious, and so does
 * a registry that cannot be reached at all (`dial tcp: lookup index.docker.io ...: no such host`).
 * Everything read from a registry is bounded: manifests and configs by {@link JSON_LIMIT}, layers
 * by the size their descriptor announces.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { authHeaders, readBounded, type Registry, registryError } from "./registry_push.ts";

/** A parsed image name. */
export interface ImageName {
  /** `host[:port]` as written; `index.docker.io` for Docker Hub names. */
  host: string;
  repository: string;
  /** A tag or a `sha256:` digest. */
  reference: string;
  /** The name as Kaniko prints it. */
  text: string;
}

/** Docker Hub as go-containerregistry names it (`name.DefaultRegistry`). */
export const DEFAULT_REGISTRY = "index.docker.io";

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
 * resolve to {@link DEFAULT_REGISTRY}, official images under `library/`. */
export function parseImageName(name: string): ImageName {
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
  let host = hasHost ? first : DEFAULT_REGISTRY;
  let repository = hasHost ? rest.slice(slash + 1) : rest;
  if (DOCKER_HUB.has(host)) {
    host = DEFAULT_REGISTRY;
    if (!repository.includes("/")) repository = `library/${repository}`;
  }
  if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(repository)) {
    throw new Error(`could not parse reference: ${name}`);
  }
  return { host, repository, reference, text: name };
}

/** `name` as go-containerregistry prints a reference: `host/repository:tag` or `@digest`. */
export function referenceText(name: ImageName): string {
  const separator = name.reference.includes(":") ? "@" : ":";
  return `${name.host}/${name.repository}${separator}${name.reference}`;
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

/** A layer (or config) as a manifest describes it. */
export interface Descriptor {
  digest: string;
  size: number;
  mediaType: string;
}

/** A reference resolved to one image. */
export interface ResolvedImage {
  /** Digest of the manifest the reference named (an index's own, when it named one): what
   * `repo@digest` pulls again. */
  digest: string;
  config: Record<string, unknown>;
  /** Bottom first. */
  layers: Descriptor[];
}

/** A pulled image: its config and layers on disk. */
export interface PulledBase {
  config: Record<string, unknown>;
  layers: (Descriptor & { path: string })[];
}

/** `fetch` through `registry`'s client that words a transport failure as Go does, naming a
 * plain-HTTP registry met with HTTPS. */
export async function registryFetch(
  url: string,
  init: RequestInit,
  registry: Pick<Registry, "client"> = {},
): Promise<Response> {
  try {
    return await fetch(url, { ...init, ...(registry.client ? { client: registry.client } : {}) });
  } catch (error) {
    const method = (init.method ?? "GET").toUpperCase();
    const verb = method[0] + method.slice(1).toLowerCase();
    if (url.startsWith("https://")) {
      const plain = await fetch(url.replace(/^https:/, "http:"), {
        method: "HEAD",
        ...(registry.client ? { client: registry.client } : {}),
      }).then(
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
    throw new Error(`${verb} "${url}": ${transportFailure(url, error)}`);
  }
}

/** Go's words for a connection that failed (`dial tcp: lookup HOST on NS:53: no such host`). */
function transportFailure(url: string, error: unknown): string {
  const detail = String((error as Error)?.cause ?? (error as Error)?.message ?? error);
  const { hostname, port, protocol } = new URL(url);
  const address = `${hostname}:${port || (protocol === "https:" ? 443 : 80)}`;
  if (/dns error|lookup address|name or service|name resolution|no address/i.test(detail)) {
    const server = nameserver();
    return `dial tcp: lookup ${hostname}${server ? ` on ${server}:53` : ""}: no such host`;
  }
  if (/connection refused/i.test(detail)) return `dial tcp ${address}: connect: connection refused`;
  if (/timed? ?out/i.test(detail)) return `dial tcp ${address}: i/o timeout`;
  return detail.replace(/^\w*Error: /, "").split("\n")[0];
}

function nameserver(): string | undefined {
  try {
    return Deno.readTextFileSync("/etc/resolv.conf").match(/^nameserver\s+(\S+)/m)?.[1];
  } catch {
    return undefined;
  }
}

/** go-containerregistry's first request to a registry, `GET /v2/`: any answer will do (401
 * included); a registry that cannot be reached fails here, worded as Go does. */
export async function pingRegistry(registry: Registry): Promise<void> {
  const response = await registryFetch(`${registry.url}/v2/`, {
    signal: AbortSignal.timeout(30_000),
  }, registry);
  await response.body?.cancel();
}

/** Resolves `repository:reference` in `registry` (an index to the image of this platform) and
 * fetches its config; a refusal throws the registry's {@link RegistryError}. `label` names the
 * image in other errors. */
export async function resolveImage(
  registry: Registry,
  repository: string,
  reference: string,
  label: string,
): Promise<ResolvedImage> {
  const json = async (path: string, accept: string) => {
    const bytes = await readBounded(await get(registry, repository, path, accept), JSON_LIMIT + 1);
    if (bytes.length > JSON_LIMIT) {
      throw new Error(`${path} of ${label} is larger than ${JSON_LIMIT} bytes`);
    }
    return { bytes, value: JSON.parse(new TextDecoder().decode(bytes)) };
  };
  const top = await json(`manifests/${reference}`, MANIFEST_TYPES.join(", "));
  const digest = reference.startsWith("sha256:")
    ? reference
    : `sha256:${createHash("sha256").update(top.bytes).digest("hex")}`;
  let manifest = top.value;
  if (Array.isArray(manifest.manifests)) {
    const arch = Deno.build.arch === "aarch64" ? "arm64" : "amd64";
    const chosen =
      manifest.manifests.find((m: { platform?: { os?: string; architecture?: string } }) =>
        m.platform?.os === "linux" && m.platform?.architecture === arch
      ) ?? manifest.manifests[0];
    if (!chosen) throw new Error(`${label}: the image index lists no image`);
    manifest = (await json(`manifests/${chosen.digest}`, MANIFEST_TYPES.join(", "))).value;
  }
  if (!manifest.config?.digest || !Array.isArray(manifest.layers)) {
    throw new Error(`${label}: the manifest is not an image manifest (schema 2 or OCI)`);
  }
  const config = (await json(`blobs/${manifest.config.digest}`, "*/*")).value;
  return { digest, config, layers: manifest.layers as Descriptor[] };
}

/** Fetches `layer` of `repository` to `path`, refusing more bytes than it announces and a wrong
 * digest. */
export async function downloadBlob(
  registry: Registry,
  repository: string,
  layer: Descriptor,
  path: string,
): Promise<void> {
  const response = await get(registry, repository, `blobs/${layer.digest}`, "*/*");
  const hash = createHash("sha256");
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  let written = 0;
  try {
    for await (const chunk of response.body!) {
      written += chunk.length;
      if (written > layer.size) {
        throw new Error(
          `blob ${layer.digest} is larger than the ${layer.size} bytes its manifest says`,
        );
      }
      hash.update(chunk);
      for (let at = 0; at < chunk.length;) at += await file.write(chunk.subarray(at));
    }
  } finally {
    file.close();
  }
  const actual = `sha256:${hash.digest("hex")}`;
  if (actual !== layer.digest) {
    throw new Error(`blob ${layer.digest} arrived with digest ${actual}`);
  }
}

async function get(
  registry: Registry,
  repository: string,
  path: string,
  accept: string,
): Promise<Response> {
  const url = `${registry.url}/v2/${repository}/${path}`;
  const response = await registryFetch(
    url,
    { headers: { ...authHeaders(registry), accept } },
    registry,
  );
  if (!response.ok) throw await registryError("GET", url, response);
  return response;
}

/** Fetches `name`'s manifest, config and layers (into `dir`) from `registry`. */
export async function pullImage(
  registry: Registry,
  name: ImageName,
  dir: string,
): Promise<PulledBase> {
  const image = await resolveImage(registry, name.repository, name.reference, name.text);
  const layers = [];
  for (const layer of image.layers) {
    const path = `${dir}/${layer.digest.replace(":", "-")}`;
    await downloadBlob(registry, name.repository, layer, path);
    layers.push({ ...layer, path });
  }
  return { config: image.config, layers };
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
