/**
 * Removes from the host what the pod deleted: for each directory the pod listed (see
 * `dir_listing.ts`), the host's children of that directory that the listing does not name. The
 * listing comes from an UNTRUSTED pod, so a directory is only pruned when it is reached from the
 * target without passing through a symbolic link (`TargetGuard.stillThere`, parents `lstat`ed,
 * never resolved); only its direct children are removed, a link among them as a link (never
 * followed); protected paths (kubehook's bookkeeping, the runner's hook responses) and their
 * parents are never removed; nor is anything the same transfer wrote, which the pod still holds
 * whatever its listing says (it was created after the listing was taken).
 *
 * @example
 * ```ts
 * const result = removeUnlisted(guard, parseListing(bytes), { protect: [".kubehook"], written });
 * console.log(`${result.removed} entries deleted`);
 * ```
 * @module
 */
import type { ParsedListing } from "./dir_listing.ts";
import type { RejectedEntry } from "./extract.ts";
import { lstatOrNull, parentOf, type TargetGuard, within } from "./path_safety.ts";

/** What {@link removeUnlisted} may not touch. */
export interface PruneOptions {
  /** Normalised relative paths never removed, nor their parents. */
  protect: string[];
  /** Relative paths the transfer wrote, and their parents. */
  written: Set<string>;
}

/** What a listing did on the host. */
export interface PruneResult {
  /** Entries removed (a directory with its contents counts once). */
  removed: number;
  /** Directories whose listing was applied (relative, "" for the target). */
  dirs: string[];
  /** Paths the pod listed that the host does not hold (refused, or never sent: sockets). */
  podOnly: string[];
  /** Directories not pruned and entries not removed, and why. */
  rejected: RejectedEntry[];
}

/** Applies `parsed` to the directory `guard` protects. */
export function removeUnlisted(
  guard: TargetGuard,
  parsed: ParsedListing,
  options: PruneOptions,
): PruneResult {
  const result: PruneResult = { removed: 0, dirs: [], podOnly: [], rejected: [] };
  for (const problem of parsed.problems) {
    result.rejected.push({
      name: problem.name,
      reason:
        `the pod's listing of it was refused (${problem.reason}), so nothing in it was deleted`,
    });
  }
  for (const [dir, names] of parsed.listings) {
    const abs = dir === "" ? guard.root : `${guard.root}/${dir}`;
    if (within(dir, options.protect)) {
      result.rejected.push({
        name: dir,
        reason: "kubehook never syncs it, so nothing in it was deleted",
      });
      continue;
    }
    if (!guard.stillThere(dir, "directory")) {
      // Missing on the host (its parents checked first, never resolved): nothing to delete.
      if (!guard.stillThere(parentOf(dir), "directory") || lstatOrNull(abs) !== null) {
        result.rejected.push({
          name: dir,
          reason:
            "it is not a directory reached without symbolic links, so nothing in it was deleted",
        });
      }
      continue;
    }
    for (const entry of Deno.readDirSync(abs)) {
      const rel = dir === "" ? entry.name : `${dir}/${entry.name}`;
      if (names.has(entry.name) || options.written.has(rel) || guards(rel, options.protect)) {
        continue;
      }
      try {
        const tree = entry.isDirectory && !entry.isSymlink;
        Deno.removeSync(`${abs}/${entry.name}`, { recursive: tree });
        if (tree) guard.forget(rel);
        result.removed++;
      } catch (err) {
        result.rejected.push({
          name: rel,
          reason: `the pod deleted it, but it could not be removed here (${
            (err as Error).message
          })`,
        });
      }
    }
    result.dirs.push(dir);
    for (const name of names) {
      const rel = dir === "" ? name : `${dir}/${name}`;
      if (!within(rel, options.protect) && lstatOrNull(`${abs}/${name}`) === null) {
        result.podOnly.push(rel);
      }
    }
  }
  return result;
}

/** Whether removing `rel` would remove a protected path: it is one, is below one, or holds one. */
function guards(rel: string, protect: string[]): boolean {
  return within(rel, protect) || protect.some((p) => p.startsWith(`${rel}/`));
}
