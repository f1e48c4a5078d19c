/**
 * What a build step changed in a root directory, found the way Kaniko's snapshotter finds it: by
 * walking the whole root before and after and comparing each path's type, mode, owner, size,
 * modification and change times and inode. The change time is set by the kernel on every write
 * or metadata change and cannot be set back by the step, so a changed file is never missed. The
 * kernel's and the sandbox's mount points (`/proc`, `/sys`, `/dev`) are not part of an image.
 *
 * @module
 */

/** What the walk remembers of one path. */
type Mark = string;
/** Relative paths (no leading `/`) to their marks, parents before children. */
export type Walk = Map<string, Mark>;

/** Top-level directories never snapshotted. */
const IGNORED = new Set(["proc", "sys", "dev"]);

/** Walks `root`. */
export async function walk(root: string): Promise<Walk> {
  const result: Walk = new Map();
  const visit = async (relative: string) => {
    const entries: string[] = [];
    for await (const entry of Deno.readDir(relative ? `${root}/${relative}` : root)) {
      entries.push(entry.name);
    }
    for (const name of entries.sort()) {
      const path = relative ? `${relative}/${name}` : name;
      if (!relative && IGNORED.has(name)) continue;
      const info = await Deno.lstat(`${root}/${path}`);
      const type = info.isDirectory ? "d" : info.isSymlink ? "l" : info.isFile ? "f" : "o";
      const link = info.isSymlink ? await Deno.readLink(`${root}/${path}`) : "";
      result.set(
        path,
        [
          type,
          info.mode,
          info.uid,
          info.gid,
          info.size,
          info.mtime?.getTime(),
          info.ctime?.getTime(),
          info.ino,
          link,
        ]
          .join("|"),
      );
      if (info.isDirectory) await visit(path);
    }
  };
  await visit("");
  return result;
}

/** The paths of `after` that are new or changed (with their parent directories, as Kaniko
 * adds them, so that the layer recreates them with their owners and modes), and those of
 * `before` that are gone (only the topmost of a deleted tree). */
export function diff(before: Walk, after: Walk): { changed: string[]; deleted: string[] } {
  const wanted = new Set<string>();
  for (const [path, mark] of after) {
    if (before.get(path) === mark) continue;
    wanted.add(path);
    for (let p = parentOf(path); p; p = parentOf(p)) wanted.add(p);
  }
  const changed = [...after.keys()].filter((p) => wanted.has(p));
  const deleted = [...before.keys()].filter((path) => {
    if (after.has(path)) return false;
    const parent = parentOf(path);
    // Under a path that is no longer a directory there is nothing left to white out.
    return !parent || after.get(parent)?.startsWith("d|");
  });
  return { changed, deleted };
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "" : path.slice(0, slash);
}
