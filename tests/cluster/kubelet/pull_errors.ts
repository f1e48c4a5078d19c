/**
 * How a failed pull reads: containerd's words (those of 1.6, the real tier's runtime) for an
 * unknown reference, a registry that refused the credentials, and every other failure, as the
 * kubelet shows them in the `Failed` event and the ErrImagePull/ImagePullBackOff message.
 *
 * @module
 */

/** Why a pull failed; `message` follows containerd's wording. */
export class ImagePullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImagePullError";
  }
}

/** containerd's words for a pull of `name` that failed for `why`. */
export function pullFailure(name: string, why: string, code = "Unknown"): ImagePullError {
  return new ImagePullError(
    `rpc error: code = ${code} desc = failed to pull and unpack image "${name}": ${why}`,
  );
}

/** containerd's words for a reference its registry does not have. */
export function notFound(name: string): ImagePullError {
  return pullFailure(name, `failed to resolve reference "${name}": ${name}: not found`, "NotFound");
}

/** containerd's (1.6) words for a registry that refused the pull of `name` (tag or digest
 * `object`) from `host`: without credentials it never asks, with wrong ones it gets 401. */
export function unauthorized(
  name: string,
  host: string,
  object: string,
  offered: boolean,
): ImagePullError {
  return pullFailure(
    name,
    `failed to resolve reference "${name}": ` +
      (offered
        ? `pulling from host ${host} failed with status code [manifests ${object}]: ` +
          "401 Unauthorized"
        : "pull access denied, repository does not exist or may require authorization: " +
          "authorization failed: no basic auth credentials"),
  );
}
