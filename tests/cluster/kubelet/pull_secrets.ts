/**
 * Registry credentials from a pod's `imagePullSecrets`, read the way kubelet reads them:
 * `kubernetes.io/dockerconfigjson` secrets (`.dockerconfigjson`, an `auths` map) and legacy
 * `kubernetes.io/dockercfg` ones (`.dockercfg`, the map itself). Each entry gives `username` and
 * `password`, or `auth` (base64 of `user:password`); keys may carry a scheme and a path.
 *
 * @module
 */
import type { V1Secret } from "@kubernetes/client-node";

/** One username/password pair offered for a registry. */
export interface Credential {
  username: string;
  password: string;
}

interface AuthEntry {
  username?: string;
  password?: string;
  auth?: string;
}

/** Every credential the secrets hold for `registry` (a host, e.g. `registry.local`). */
export function credentialsFor(secrets: readonly V1Secret[], registry: string): Credential[] {
  return secrets.flatMap((secret) =>
    Object.entries(authEntries(secret))
      .filter(([key]) => registryHost(key) === registry)
      .flatMap(([, entry]) => credential(entry))
  );
}

/** The value of a secret's key, decoded (`data` is base64, `stringData` plain). */
export function secretValue(secret: V1Secret, key: string): string | undefined {
  const plain = (secret as { stringData?: Record<string, string> }).stringData?.[key];
  if (plain !== undefined) return plain;
  const encoded = secret.data?.[key];
  return encoded === undefined ? undefined : decodeBase64Text(encoded);
}

function authEntries(secret: V1Secret): Record<string, AuthEntry> {
  const json = secretValue(secret, ".dockerconfigjson");
  const legacy = secretValue(secret, ".dockercfg");
  try {
    if (json !== undefined) return JSON.parse(json).auths ?? {};
    if (legacy !== undefined) return JSON.parse(legacy) ?? {};
  } catch {
    // A malformed config offers no credentials, as kubelet ignores it.
  }
  return {};
}

function registryHost(key: string): string {
  return key.replace(/^[a-z]+:\/\//, "").split("/")[0];
}

function credential(entry: AuthEntry): Credential[] {
  if (typeof entry.username === "string" && typeof entry.password === "string") {
    return [{ username: entry.username, password: entry.password }];
  }
  if (typeof entry.auth !== "string") return [];
  const decoded = decodeBase64Text(entry.auth);
  const colon = decoded.indexOf(":");
  return colon < 0
    ? []
    : [{ username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }];
}

function decodeBase64Text(encoded: string): string {
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0)));
  } catch {
    return "";
  }
}
