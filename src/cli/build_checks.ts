/**
 * `kubehook doctor`'s checks of the Dockerfile-build setup: the registry settings, the
 * permissions builds add (attach, the registry secret), the Secret itself (present, of type
 * `kubernetes.io/dockerconfigjson`, with a credential for the push registry), and the registry
 * answering `GET /v2/` with that credential — asked from where doctor runs, as the hooks ask it
 * from the runner (run doctor in a runner pod to see what jobs will see).
 *
 * @module
 */
import { apiHost, splitHost } from "../build/build_target.ts";
import type { KubeClient } from "../kube/client.ts";
import { checkRegistry } from "../registry/registry_client.ts";
import { secretCredential } from "../registry/secret_credential.ts";
import { REGISTRY_HOST, REGISTRY_SECRET_NAME, type Settings } from "../runner/settings.ts";
import { checkPermissions } from "./cluster_checks.ts";
import { buildPermissions } from "./permissions.ts";
import type { CheckRow } from "./table.ts";

const CHECK = "Dockerfile builds";

/** The rows of the build checks. */
export async function checkBuilds(
  client: KubeClient,
  namespace: string,
  user: string | undefined,
  settings: Settings,
): Promise<CheckRow[]> {
  const registry = settings.registry;
  if (!registry) {
    return [{
      check: CHECK,
      result: "skip",
      detail: `not set up (${REGISTRY_HOST}, ${REGISTRY_SECRET_NAME}): a Dockerfile action's ` +
        "step fails with a message saying so.",
    }];
  }
  const push = splitHost(registry.push).registry;
  const rows = await checkPermissions(
    client,
    namespace,
    user,
    buildPermissions(registry.secretName),
  );
  let read;
  try {
    read = await secretCredential(client, namespace, registry.secretName, push);
  } catch (error) {
    return [...rows, { check: CHECK, result: "FAIL", detail: (error as Error).message }];
  }
  const access = { credential: read.credential, insecure: registry.insecure };
  const scheme = registry.insecure ? "http" : "https";
  try {
    await checkRegistry(apiHost(push), access);
  } catch (error) {
    return [...rows, {
      check: CHECK,
      result: "FAIL",
      detail: `${scheme}://${apiHost(push)}/v2/ asked from here: ${(error as Error).message}`,
      fix: `check ${REGISTRY_HOST}(_PUSH), the credential in ${read.where}, the proxy ` +
        "settings (HTTPS_PROXY, NO_PROXY) and KUBEHOOK_REGISTRY_INSECURE for a registry without TLS.",
    }];
  }
  return [...rows, {
    check: CHECK,
    result: read.credential ? "ok" : "warn",
    detail: `push ${registry.push}, pull ${registry.pull}, builder ${settings.builderImage}\n` +
      `${scheme}://${apiHost(push)}/v2/ answers here ${
        read.credential ? `with the credential of ${read.where}` : "without a credential"
      }`,
    ...(read.credential ? {} : { fix: `${read.where} has no entry for ${push}: add one.` }),
  }];
}
