/**
 * Path lookup inside a container's root as the container will see it, from the host: the image's
 * overlays plus the pod's volume mounts, symlinks followed relative to the container's root (an
 * absolute link inside the image must not escape to the host's root). The kubelet uses it to
 * report a missing executable the way the runtime does, before starting anything, and to read
 * the image's /etc/passwd.
 *
 * @module
 */
import type { Layer } from "./images.ts";

const MAX_LINKS = 40;

/** The host path that provides `path` in the container's root, symlinks followed; or undefined. */
export function resolveInRoot(
  layers: readonly Layer[],
  path: string,
  links = 0,
): string | undefined {
  const parts = path.split("/").filter((part) => part && part !== ".");
  let current = "";
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === "..") {
      current = current.slice(0, current.lastIndexOf("/"));
      continue;
    }
    const next = `${current}/${parts[i]}`;
    const host = hostPath(layers, next);
    if (!host) {
      // A directory that only exists as the parent of a mount point (the runtime creates it).
      if (!layers.some((l) => l.target.startsWith(`${next}/`))) return undefined;
    } else if (Deno.lstatSync(host).isSymlink) {
      if (links >= MAX_LINKS) return undefined;
      const target = Deno.readLinkSync(host);
      const base = target.startsWith("/") ? target : `${current}/${target}`;
      return resolveInRoot(layers, `${base}/${parts.slice(i + 1).join("/")}`, links + 1);
    }
    current = next;
  }
  return hostPath(layers, current || "/");
}

/** Why `command` cannot be executed in the container (runc's wording), or undefined if it can. */
export function executableProblem(
  layers: readonly Layer[],
  command: string,
  searchPath: string,
  workingDir: string,
): string | undefined {
  if (command.includes("/")) {
    const absolute = command.startsWith("/") ? command : `${workingDir}/${command}`;
    return isExecutable(resolveInRoot(layers, absolute))
      ? undefined
      : `exec: "${command}": stat ${command}: no such file or directory`;
  }
  const found = searchPath.split(":").some((dir) =>
    isExecutable(resolveInRoot(layers, `${dir || "."}/${command}`))
  );
  return found ? undefined : `exec: "${command}": executable file not found in $PATH`;
}

/** The layer with the deepest target above `path` decides; its first lower holding it wins. */
function hostPath(layers: readonly Layer[], path: string): string | undefined {
  const layer = layers
    .filter((l) => l.target === "/" || path === l.target || path.startsWith(`${l.target}/`))
    .reduce<Layer | undefined>(
      (best, l) => (!best || l.target.length > best.target.length ? l : best),
      undefined,
    );
  if (!layer) return undefined;
  const rest = layer.target === "/" ? path : path.slice(layer.target.length);
  for (const lower of layer.lowers) {
    const candidate = `${lower}${rest}`.replace(/\/+$/, "") || "/";
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(candidate);
    } catch {
      // Not in this lower; a deeper one may hold it.
      continue;
    }
    // overlayfs' whiteout (a pulled layer deleted the path): the deeper lowers do not show.
    if (info.isCharDevice && info.rdev === 0) return undefined;
    return candidate;
  }
  return undefined;
}

function isExecutable(path: string | undefined): boolean {
  if (!path) return false;
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}
