/**
 * Pushes images to a registry with the Docker registry HTTP API v2, as `docker push` does: each
 * layer blob once (a HEAD says whether the registry has it; blobs another repository holds are
 * mounted, not sent again), the config blob, then the OCI manifest under each tag. Both the real
 * tier (its catalogue) and the embedded cluster's Kaniko executor push with it.
 *
 * A refusal is a {@link RegistryError} worded as go-containerregistry words it
 * (`PUT <url>: UNAUTHORIZED: authentication required`), which is what Kaniko prints; the
 * registry's error body is read only up to {@link ERROR_BODY_LIMIT}.
 *
 * @module
 */

/** A content-addressed blob on disk. */
export interface Blob {
  digest: string;
  size: number;
  mediaType: string;
  /** The file holding it; or its bytes. */
  path?: string;
  bytes?: Uint8Array<ArrayBuffer>;
}

/** A registry reachable from here, with basic-auth credentials when it wants them. */
export interface Registry {
  /** `http://host:port` or `https://host:port`. */
  url: string;
  username?: string;
  password?: string;
  /** The HTTP client to reach it with (a Unix socket, a proxy); the default one otherwise. */
  client?: Deno.HttpClient;
}

/** One image: its repository path in the registry, tags, layers (bottom first) and config. */
export interface PushImage {
  repository: string;
  tags: readonly string[];
  layers: Blob[];
  config: Blob;
}

/** How much of a registry's error answer is read: real ones are a few hundred bytes. */
export const ERROR_BODY_LIMIT = 16 * 1024;

/** A registry answered an error status; `message` is go-containerregistry's wording. */
export class RegistryError extends Error {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    detail: string,
    /** The status as Go prints it (`401 Unauthorized`). */
    readonly statusLine = String(status),
  ) {
    super(`${method} ${url}: ${detail}`);
    this.name = "RegistryError";
  }
}

export async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return "sha256:" +
    Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The `Authorization` header for `registry`'s credentials (none without them). */
export function authHeaders(registry: Registry): Record<string, string> {
  return registry.username
    ? { authorization: `Basic ${btoa(`${registry.username}:${registry.password ?? ""}`)}` }
    : {};
}

/** Reads at most `limit` bytes of `response`'s body (the rest is cancelled). */
export async function readBounded(response: Response, limit: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  while (reader) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value.subarray(0, Math.max(0, limit - size)));
    size += value.length;
    if (size >= limit) {
      await reader.cancel();
      break;
    }
  }
  const out = new Uint8Array(Math.min(size, limit));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** The error of a failed answer, worded from the registry's `{"errors":[...]}` body as
 * go-containerregistry does (`CODE: message; detail`), else from its status. */
export async function registryError(
  method: string,
  url: string,
  response: Response,
): Promise<RegistryError> {
  const text = new TextDecoder().decode(await readBounded(response, ERROR_BODY_LIMIT));
  const status = `unexpected status code ${response.status} ${response.statusText}`;
  let detail = text.trim()
    ? `${status}: ${text.trim()}`
    : method === "HEAD"
    ? `${status} (HEAD responses have no body, use GET for details)`
    : status;
  try {
    const errors = JSON.parse(text).errors as { code: string; message: string; detail?: unknown }[];
    if (Array.isArray(errors) && errors.length > 0) {
      detail = errors.map((e) =>
        `${e.code}: ${e.message}` + (e.detail ? `; ${JSON.stringify(e.detail)}` : "")
      ).join("; ");
    }
  } catch {
    // Not the registry's JSON: the status and the text say it.
  }
  return new RegistryError(
    method,
    url,
    response.status,
    detail,
    `${response.status} ${response.statusText}`.trim(),
  );
}

/** Pushes `image`; `mountFrom` names a repository of the same registry that may hold its
 * blobs already. Resolves the manifest's digest. */
export async function pushImage(
  registry: Registry,
  image: PushImage,
  mountFrom?: string,
): Promise<string> {
  const headers = authHeaders(registry);
  const call = async (method: string, path: string, init: RequestInit = {}) => {
    const url = path.startsWith("http") ? path : `${registry.url}${path}`;
    const response = await fetch(url, {
      ...init,
      ...(registry.client ? { client: registry.client } : {}),
      method,
      headers: { ...headers, ...init.headers as Record<string, string> },
    });
    if (response.status >= 400 && !(method === "HEAD" && response.status === 404)) {
      throw await registryError(method, url, response);
    }
    await response.body?.cancel();
    return response;
  };
  for (const blob of [...image.layers, image.config]) {
    const path = `/v2/${image.repository}/blobs/${blob.digest}`;
    if ((await call("HEAD", path)).status === 200) continue;
    const mount = mountFrom ? `?mount=${blob.digest}&from=${mountFrom}` : "";
    const started = await call("POST", `/v2/${image.repository}/blobs/uploads/${mount}`);
    if (started.status === 201) continue;
    const location = new URL(started.headers.get("location")!, registry.url);
    location.searchParams.set("digest", blob.digest);
    const body = blob.bytes ?? (await Deno.open(blob.path!)).readable;
    await call("PUT", location.href, {
      body,
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(blob.size),
      },
    });
  }
  const manifest = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: image.config.mediaType,
      digest: image.config.digest,
      size: image.config.size,
    },
    layers: image.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  }));
  for (const tag of image.tags) {
    await call("PUT", `/v2/${image.repository}/manifests/${tag}`, {
      body: manifest,
      headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
    });
  }
  return await sha256(manifest);
}
