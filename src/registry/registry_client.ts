/**
 * The few calls kubehook makes to a container registry (distribution API v2), from the runner:
 * whether a tag exists (`HEAD /v2/<name>/manifests/<tag>`), so that an image built before is not
 * built again, and whether the registry takes the credentials at all (`GET /v2/`, for `kubehook
 * doctor`). Authentication follows the registry's challenge, as docker does: `Basic` gets the
 * credential; `Bearer realm=…,service=…,scope=…` gets a token from the realm with the credential
 * first. `fetch` goes through the runner's `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`.
 *
 * @example
 * ```ts
 * const ref = { registry: "ghcr.io", repository: "my-org/action", tag: "ctx-1234" };
 * if (await manifestExists(ref, { credential, insecure: false })) console.log("built before");
 * ```
 * @module
 */
import { base64Utf8, concat } from "../bytes.ts";
import type { RegistryCredential } from "./docker_config.ts";

/** One image in one registry. */
export interface ImageRef {
  /** `host[:port]`. */
  registry: string;
  /** The path in the registry, e.g. `my-org/action`. */
  repository: string;
  tag: string;
}

/** How to reach the registry. */
export interface RegistryAccess {
  credential?: RegistryCredential;
  /** Plain HTTP instead of HTTPS. */
  insecure: boolean;
  signal?: AbortSignal;
}

/** `host[:port]/path:tag` of `ref`. */
export function formatRef(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}:${ref.tag}`;
}

/** Each call's own deadline: a registry that accepts and never answers does not hold the step. */
const REQUEST_TIMEOUT_MS = 30_000;
/** A token answer is a few KiB; anything bigger is not one. */
const MAX_TOKEN_BYTES = 1024 * 1024;
const MANIFEST_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

/** A registry answered, but not as hoped; `status` is its HTTP status. */
export class RegistryError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = "RegistryError";
  }
}

/** Whether the registry holds `ref`'s tag. */
export async function manifestExists(ref: ImageRef, access: RegistryAccess): Promise<boolean> {
  const path = `/v2/${ref.repository}/manifests/${encodeURIComponent(ref.tag)}`;
  const response = await call(ref.registry, "HEAD", path, `repository:${ref.repository}:pull`, {
    ...access,
    accept: MANIFEST_TYPES,
  });
  if (response.status === 200) return true;
  if (response.status === 404) return false;
  throw refusal(ref.registry, `HEAD ${path}`, response.status, access);
}

/** Resolves when the registry answers `GET /v2/` with 200 for the credential. */
export async function checkRegistry(registry: string, access: RegistryAccess): Promise<void> {
  const response = await call(registry, "GET", "/v2/", "", access);
  await response.body?.cancel();
  if (response.status !== 200) throw refusal(registry, "GET /v2/", response.status, access);
}

async function call(
  registry: string,
  method: string,
  path: string,
  scope: string,
  access: RegistryAccess & { accept?: string },
): Promise<Response> {
  const url = `${access.insecure ? "http" : "https"}://${registry}${path}`;
  const headers: Record<string, string> = access.accept ? { accept: access.accept } : {};
  let response = await send(url, method, headers, access.signal);
  if (response.status !== 401 || !access.credential) return response;
  const challenge = response.headers.get("www-authenticate") ?? "";
  await response.body?.cancel();
  const authorization = await authorize(challenge, scope, access);
  response = await send(url, method, { ...headers, authorization }, access.signal);
  return response;
}

/** The Authorization header the challenge asks for. */
async function authorize(
  challenge: string,
  scope: string,
  access: RegistryAccess,
): Promise<string> {
  const { username, password } = access.credential!;
  const basic = `Basic ${base64Utf8(`${username}:${password}`)}`;
  const bearer = /^\s*bearer\s+(.*)$/i.exec(challenge);
  if (!bearer) return basic;
  const params = challengeParams(bearer[1]);
  if (!params.realm) {
    throw new RegistryError(`The registry's Bearer challenge names no realm: "${challenge}".`);
  }
  const realm = new URL(params.realm);
  if (params.service) realm.searchParams.set("service", params.service);
  const wanted = scope || params.scope;
  if (wanted) realm.searchParams.set("scope", wanted);
  const response = await send(realm.href, "GET", { authorization: basic }, access.signal);
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new RegistryError(
      `The registry's token service ${realm.origin}${realm.pathname} refused the credential of ` +
        `user "${username}" (HTTP ${response.status}): check the registry secret's password or token.`,
      response.status,
    );
  }
  const text = await boundedText(response, MAX_TOKEN_BYTES);
  let token: unknown;
  try {
    const json = JSON.parse(text);
    token = json.token ?? json.access_token;
  } catch {
    token = undefined;
  }
  if (typeof token !== "string" || !token) {
    throw new RegistryError(`The registry's token service ${realm.origin} answered no token.`);
  }
  return `Bearer ${token}`;
}

/** `realm="https://…",service="…",scope="…"` as an object. */
function challengeParams(text: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const match of text.matchAll(/([a-zA-Z]+)="([^"]*)"/g)) {
    params[match[1].toLowerCase()] = match[2];
  }
  return params;
}

async function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  signal?: AbortSignal,
): Promise<Response> {
  const deadline = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  try {
    const response = await fetch(url, {
      method,
      headers,
      redirect: "follow",
      signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
    });
    if (method === "HEAD") await response.body?.cancel();
    return response;
  } catch (error) {
    signal?.throwIfAborted();
    const why = deadline.aborted
      ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`
      : (error as Error).message;
    throw new RegistryError(`Cannot reach ${new URL(url).origin} (${method}): ${why}.`);
  }
}

function refusal(registry: string, what: string, status: number, access: RegistryAccess) {
  const fix = status === 401 || status === 403
    ? access.credential
      ? `it refused the credential of user "${access.credential.username}": check the registry secret`
      : "it wants credentials, and the registry secret has none for this host"
    : "check that the host and path are the registry's";
  return new RegistryError(
    `Registry ${registry} answered ${what} with HTTP ${status}: ${fix}.`,
    status,
  );
}

async function boundedText(response: Response, max: number): Promise<string> {
  const reader = response.body!.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel();
      throw new RegistryError(`The registry's answer is larger than ${max} bytes: not a token.`);
    }
    parts.push(value);
  }
  return new TextDecoder().decode(concat(parts));
}
