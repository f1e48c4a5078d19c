/**
 * Pushes images to a registry with the Docker registry HTTP API v2, as `docker push` does: each
 * layer blob once (a HEAD says whether the registry has it; blobs another repository holds are
 * mounted, not sent again), the config blob, then the OCI manifest under each tag.
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
  url: string;
  username?: string;
  password?: string;
}

/** One image: its repository path in the registry, tags, layers (bottom first) and config. */
export interface PushImage {
  repository: string;
  tags: readonly string[];
  layers: Blob[];
  config: Blob;
}

export async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return "sha256:" +
    Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Pushes `image`; `mountFrom` names a repository of the same registry that may hold its
 * blobs already. */
export async function pushImage(
  registry: Registry,
  image: PushImage,
  mountFrom?: string,
): Promise<void> {
  const headers: Record<string, string> = registry.username
    ? { authorization: `Basic ${btoa(`${registry.username}:${registry.password}`)}` }
    : {};
  const call = async (method: string, path: string, init: RequestInit = {}) => {
    const url = path.startsWith("http") ? path : `${registry.url}${path}`;
    const response = await fetch(url, {
      ...init,
      method,
      headers: { ...headers, ...init.headers as Record<string, string> },
    });
    if (response.status >= 400 && !(method === "HEAD" && response.status === 404)) {
      throw new Error(
        `Pushing ${image.repository} to ${registry.url}: ${method} ${path} answered ` +
          `${response.status}: ${await response.text()}`,
      );
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
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: image.config.mediaType,
      digest: image.config.digest,
      size: image.config.size,
    },
    layers: image.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  });
  for (const tag of image.tags) {
    await call("PUT", `/v2/${image.repository}/manifests/${tag}`, {
      body: manifest,
      headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
    });
  }
}
