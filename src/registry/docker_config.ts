/**
 * Reading a `kubernetes.io/dockerconfigjson` Secret's `.dockerconfigjson` the way the kubelet and
 * Kaniko do: `auths` keyed by registry (`ghcr.io`, `https://ghcr.io`, `registry:5000`,
 * `https://index.docker.io/v1/` for Docker Hub), each with `username`/`password` or `auth`
 * (base64 of `user:password`). kubehook needs the credential to ask the registry whether an image
 * was built before.
 *
 * @example
 * ```ts
 * const config = parseDockerConfig('{"auths":{"ghcr.io":{"auth":"dTpw"}}}', "secret ci/regcred");
 * credentialFor(config, "ghcr.io"); // { username: "u", password: "p" }
 * ```
 * @module
 */

/** Basic credentials for one registry. */
export interface RegistryCredential {
  username: string;
  password: string;
}

/** The parsed `auths`, by normalised registry host. */
export type DockerConfig = ReadonlyMap<string, RegistryCredential>;

/** Parses `text`; `where` names the Secret in errors. Throws naming the fault and the fix. */
export function parseDockerConfig(text: string, where: string): DockerConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(
      `${where}: .dockerconfigjson is not JSON (${(error as Error).message}). Recreate it with ` +
        "kubectl create secret docker-registry.",
    );
  }
  const auths = (json as { auths?: unknown } | null)?.auths;
  if (typeof auths !== "object" || auths === null || Array.isArray(auths)) {
    throw new Error(
      `${where}: .dockerconfigjson has no "auths" object. Recreate it with kubectl create ` +
        "secret docker-registry.",
    );
  }
  const config = new Map<string, RegistryCredential>();
  for (const [key, entry] of Object.entries(auths as Record<string, unknown>)) {
    const credential = credentialOf(entry);
    if (credential) config.set(normaliseRegistry(key), credential);
  }
  return config;
}

/** The credential for `host` (`ghcr.io`, `registry:5000`), if the config has one. */
export function credentialFor(config: DockerConfig, host: string): RegistryCredential | undefined {
  return config.get(normaliseRegistry(host));
}

/** `https://index.docker.io/v1/` → `docker.io`; `http://reg:5000/` → `reg:5000`. */
function normaliseRegistry(key: string): string {
  const host = key.trim().toLowerCase().replace(/^[a-z]+:\/\//, "").replace(/\/.*$/, "");
  return host === "index.docker.io" || host === "registry-1.docker.io" ? "docker.io" : host;
}

function credentialOf(entry: unknown): RegistryCredential | undefined {
  if (typeof entry !== "object" || entry === null) return undefined;
  const { username, password, auth } = entry as Record<string, unknown>;
  if (typeof username === "string" && typeof password === "string" && username) {
    return { username, password };
  }
  if (typeof auth !== "string" || !auth) return undefined;
  let decoded: string;
  try {
    decoded = new TextDecoder().decode(Uint8Array.from(atob(auth), (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(":");
  return colon > 0
    ? { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
    : undefined;
}
