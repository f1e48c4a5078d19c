/**
 * The kubeconfig the cluster hands out: one cluster entry carrying the CA as
 * `certificate-authority-data`, and the contexts `admin` (current), `runner`, `builder` and
 * `restricted`, each a bearer-token user with namespace `default`. Written atomically (temp file,
 * then rename) so a reader never sees half a file.
 *
 * @module
 */
import type { Identity, User } from "./authz.ts";

/** The kubeconfig text (YAML is a superset of JSON, so JSON keeps this dependency-free). */
export function kubeconfigText(url: string, caPem: string, users: Record<Identity, User>): string {
  const identities = Object.keys(users) as Identity[];
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{
      name: "kubehook-local",
      cluster: {
        server: url,
        "certificate-authority-data": btoa(caPem),
      },
    }],
    users: identities.map((id) => ({ name: id, user: { token: users[id].token } })),
    contexts: identities.map((id) => ({
      name: id,
      context: { cluster: "kubehook-local", user: id, namespace: "default" },
    })),
    "current-context": "admin",
    preferences: {},
  };
  return JSON.stringify(config, null, 2) + "\n";
}

/** Writes `text` to `path` through a temporary file in the same directory and a rename. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeTextFile(temp, text, { mode: 0o600 });
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw new Error(
      `Cannot write the kubeconfig ${path}: ${error}. Check that its directory exists and is writable.`,
    );
  }
}
