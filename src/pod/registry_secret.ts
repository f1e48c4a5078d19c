/**
 * The image pull secret for one registry credential: a `kubernetes.io/dockerconfigjson` Secret the
 * job pod lists in `imagePullSecrets`. prepare_job creates one for the job container and one for
 * each service with credentials; cleanup deletes them by label.
 *
 * @example
 * ```ts
 * const secret = renderRegistrySecret({
 *   name: secretName("arc-x"), registry: { username: "u", password: "p", serverUrl: "ghcr.io" },
 *   labels: kubehookLabels("arc-x", "arc-x-workflow"),
 * });
 * ```
 * @module
 */
import type { V1OwnerReference, V1Secret } from "@kubernetes/client-node";
import { base64Utf8 } from "../bytes.ts";
import type { Registry } from "../runner/input.ts";

/** The key Docker (and the kubelet) use for Docker Hub; the runner sends `serverUrl: ""` for it. */
export const DOCKER_HUB_SERVER = "https://index.docker.io/v1/";

/** What a registry secret is made from. */
export interface RegistrySecretInput {
  name: string;
  registry: Registry;
  labels: Record<string, string>;
  /** The runner pod as owner, so the secret is collected with it. */
  ownerReferences?: V1OwnerReference[];
}

/** Renders the immutable dockerconfigjson Secret for `registry`. */
export function renderRegistrySecret(input: RegistrySecretInput): V1Secret {
  const { username, password, serverUrl } = input.registry;
  const config = {
    auths: {
      [serverUrl || DOCKER_HUB_SERVER]: {
        username,
        password,
        auth: base64Utf8(`${username}:${password}`),
      },
    },
  };
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/dockerconfigjson",
    immutable: true,
    metadata: {
      name: input.name,
      labels: { ...input.labels },
      ...(input.ownerReferences?.length ? { ownerReferences: input.ownerReferences } : {}),
    },
    data: { ".dockerconfigjson": base64Utf8(JSON.stringify(config)) },
  };
}
