/**
 * Where a Dockerfile action's image goes: its repository is named after the action (its
 * directory under `<work>/_actions`, or its path in the workspace for a local action), its tag is
 * the build's content digest (context_digest.ts), under the registry host and path the settings
 * give — once as the builder pushes it and kubehook asks for it, once as the kubelet pulls it.
 *
 * @example
 * ```ts
 * const target = buildTarget(
 *   { push: "registry.ci:5000/actions", pull: "localhost:30500/actions", secretName: "r", insecure: true },
 *   "/home/runner/_work/_actions/octo/hello/v1", "/home/runner/_work", "ab12…",
 * );
 * formatRef(target.pull); // "localhost:30500/actions/octo-hello-v1:ctx-ab12…"
 * ```
 * @module
 */
import type { ImageRef } from "../registry/registry_client.ts";
import type { RegistrySettings } from "../runner/settings.ts";

/** The image of one build, as each side names it. */
export interface BuildTarget {
  push: ImageRef;
  pull: ImageRef;
  /** The action, for people: `octo/hello/v1`. */
  action: string;
}

/** A repository name component may be long, but registries cap whole names near 255. */
const MAX_SLUG = 100;

/** The target of building `contextDir` (a host path) whose digest is `digest`. */
export function buildTarget(
  registry: RegistrySettings,
  contextDir: string,
  workDir: string,
  digest: string,
): BuildTarget {
  const action = actionName(contextDir, workDir);
  const slug = action.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "")
    .slice(0, MAX_SLUG).replace(/-+$/, "") || "action";
  const tag = `ctx-${digest}`;
  const at = (hostPath: string): ImageRef => {
    const { registry, path } = splitHost(hostPath);
    return { registry, repository: path ? `${path}/${slug}` : slug, tag };
  };
  return { push: at(registry.push), pull: at(registry.pull), action };
}

/** `ghcr.io/org` → registry `ghcr.io`, path `org`; a first part without `.`, `:` or `localhost`
 * is a Docker Hub user, as docker reads image names (`handle` → `docker.io`, `handle`). */
export function splitHost(hostPath: string): { registry: string; path: string } {
  const [first, ...rest] = hostPath.split("/");
  if (/[.:]/.test(first) || first === "localhost") return { registry: first, path: rest.join("/") };
  return { registry: "docker.io", path: hostPath };
}

/** The host the registry API of `registry` answers on (Docker Hub's is not `docker.io`). */
export function apiHost(registry: string): string {
  return registry === "docker.io" ? "registry-1.docker.io" : registry;
}

function actionName(contextDir: string, workDir: string): string {
  const work = workDir.replace(/\/+$/, "");
  const inside = work && contextDir.startsWith(`${work}/`)
    ? contextDir.slice(work.length + 1)
    : undefined;
  if (inside === undefined) return contextDir.split("/").filter(Boolean).at(-1) ?? "action";
  return inside.replace(/^_actions\//, "");
}
