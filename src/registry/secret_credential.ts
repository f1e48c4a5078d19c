/**
 * The registry credential in a `kubernetes.io/dockerconfigjson` Secret, read through the API: the
 * build registry's secret, which the builder pushes with and kubehook asks the registry with.
 * Used by the builds (hooks/build_image.ts) and by `kubehook doctor`, so both say the same thing
 * about a missing or wrong Secret.
 *
 * @module
 */
import type { V1Secret } from "@kubernetes/client-node";
import type { KubeClient } from "../kube/client.ts";
import { KubeApiError } from "../kube/errors.ts";
import { secretsPath } from "../kube/paths.ts";
import { credentialFor, parseDockerConfig, type RegistryCredential } from "./docker_config.ts";

/** What the Secret holds for one registry. */
export interface SecretCredential {
  /** Undefined when the Secret has no entry for the registry (pushes go without one). */
  credential?: RegistryCredential;
  /** `Secret ns/name`, for messages. */
  where: string;
}

/** Reads Secret `name` and its credential for `registry` (`host[:port]`). Throws naming the
 * Secret, what is wrong with it, and the command that fixes it. */
export async function secretCredential(
  client: KubeClient,
  namespace: string,
  name: string,
  registry: string,
  signal?: AbortSignal,
): Promise<SecretCredential> {
  const where = `Secret ${namespace}/${name}`;
  const recreate = `kubectl -n ${namespace} create secret docker-registry ${name} ` +
    `--docker-server=${registry} --docker-username=... --docker-password=...`;
  let secret: V1Secret;
  try {
    secret = await client.get<V1Secret>(secretsPath(namespace, name), { signal });
  } catch (error) {
    if (error instanceof KubeApiError && error.status === 404) {
      throw new Error(`${where} does not exist. Create it: ${recreate}.`);
    }
    throw error;
  }
  const data = secret.data?.[".dockerconfigjson"];
  if (secret.type !== "kubernetes.io/dockerconfigjson" || !data) {
    throw new Error(
      `${where} is of type "${secret.type ?? "Opaque"}"${
        data ? "" : " without a .dockerconfigjson key"
      }: ` +
        `a registry secret is of type kubernetes.io/dockerconfigjson. Recreate it: ${recreate}.`,
    );
  }
  const text = new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
  return { credential: credentialFor(parseDockerConfig(text, where), registry), where };
}
