/**
 * Image references as container runtimes read them: `[domain/]path[:tag][@digest]`, Docker Hub as
 * the default domain with `library/` for single-name images, `latest` as the default tag. The
 * catalogue matches on the normalized repository, so `busybox`, `busybox:latest` and
 * `docker.io/library/busybox` are one image.
 *
 * @example
 * ```ts
 * parseImageReference("busybox").normalized; // "docker.io/library/busybox:latest"
 * ```
 * @module
 */

/** A parsed, normalized image reference. */
export interface ImageReference {
  /** As written in the pod spec. */
  original: string;
  /** Registry host, e.g. `docker.io`, `ghcr.io`, `registry.local`. */
  domain: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  path: string;
  /** The tag; `latest` when none was given. */
  tag: string;
  /** `sha256:...` when the reference pins a digest. */
  digest?: string;
  /** `domain/path`. */
  repository: string;
  /** `domain/path:tag` (or `domain/path@digest`), what kubelet reports as `image`. */
  normalized: string;
  /** True when the reference names no tag and no digest, or tag `latest`: pulled Always by default. */
  floating: boolean;
}

/** Thrown for a reference the runtime cannot parse; kubelet reports it as InvalidImageName. */
export class InvalidImageNameError extends Error {
  constructor(image: string) {
    super(
      `Failed to apply default image tag "${image}": couldn't parse image name "${image}": ` +
        "invalid reference format",
    );
    this.name = "InvalidImageNameError";
  }
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/;

/** Parses and normalizes `image`; throws {@link InvalidImageNameError} when it is malformed. */
export function parseImageReference(image: string): ImageReference {
  const [rest, digest, ...extra] = image.split("@");
  if (extra.length > 0 || (digest !== undefined && !DIGEST.test(digest))) {
    throw new InvalidImageNameError(image);
  }
  const colon = rest.lastIndexOf(":");
  const hasTag = colon > rest.lastIndexOf("/");
  const name = hasTag ? rest.slice(0, colon) : rest;
  const tag = hasTag ? rest.slice(colon + 1) : "latest";
  const parts = name.split("/");
  const first = parts[0];
  const explicitDomain = parts.length > 1 &&
    (first.includes(".") || first.includes(":") || first === "localhost");
  const domain = explicitDomain ? first : "docker.io";
  const components = explicitDomain ? parts.slice(1) : parts;
  if (domain === "docker.io" && components.length === 1) components.unshift("library");
  const valid = TAG.test(tag) && DOMAIN.test(domain) && components.length > 0 &&
    components.every((component) => PATH_COMPONENT.test(component));
  if (!valid) throw new InvalidImageNameError(image);
  const path = components.join("/");
  const repository = `${domain}/${path}`;
  return {
    original: image,
    domain,
    path,
    tag,
    ...(digest ? { digest } : {}),
    repository,
    normalized: digest ? `${repository}@${digest}` : `${repository}:${tag}`,
    floating: !digest && tag === "latest",
  };
}
