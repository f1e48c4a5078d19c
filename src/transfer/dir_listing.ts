/**
 * Directory listings: how deletions cross a transfer. For each directory that changed since the
 * last sync, the sender lists the names the directory holds now; the receiver removes the
 * children of that directory that the listing does not name. Deleting a child changes its
 * parent's mtime and ctime, so the change detection that already runs finds every directory to
 * list: no whole-tree walk, no hashing.
 *
 * The format is what `find D/. -maxdepth 1 -print0` prints, so busybox and GNU find write it as
 * it is: NUL-terminated records, a directory as `./D/.` (the root as `./.`), followed by each of
 * its children as `./D/./NAME`. A name never contains `/` and is never `.`, so the two kinds of
 * record cannot be confused, and names may hold any other byte, newlines included.
 *
 * From the pod, a listing travels as the tar member {@link LISTING_MEMBER} after the archive's
 * entries (`extract.ts` reads it instead of writing it). It is untrusted: {@link parseListing}
 * refuses every directory whose records are malformed, and `host_prune.ts` decides what may be
 * removed. To the pod, the host's listings ({@link DirListing}) travel as a shell file of the
 * step's upload instead (`podPruneListing`): the pod's shell cannot read NUL-separated records.
 *
 * @example
 * ```ts
 * const bytes = new TextEncoder().encode("./repo/.\0./repo/./a.txt\0./repo/./new\nline\0");
 * const { listings, problems } = parseListing(bytes);
 * listings.get("repo"); // Set { "a.txt", "new\nline" }
 * ```
 * @module
 */
import { normalizeName } from "./path_safety.ts";

/** The tar member a pod-side pack sends its listing as: inside kubehook's bookkeeping directory,
 * which is never synced, so no entry of a workspace has this name. */
export const LISTING_MEMBER = ".kubehook/listing";

/** One directory (relative, "" for the root) and the names it holds. */
export interface DirListing {
  dir: string;
  names: string[];
}

/** A listing read back: the names per directory, and the directories refused. */
export interface ParsedListing {
  /** Directory (relative, normalised, "" for the root) → the names it holds. */
  listings: Map<string, Set<string>>;
  /** Directories (or records) refused, and why; nothing is removed in them. */
  problems: { name: string; reason: string }[];
}

/** Reads listing records. A directory with any malformed record (a name with `/`, `.` or `..`,
 * a child of another directory, invalid UTF-8, a directory name that climbs out) is refused as a
 * whole: a partial listing would remove what it forgot. Directories listed twice are merged. */
export function parseListing(bytes: Uint8Array): ParsedListing {
  const listings = new Map<string, Set<string>>();
  const problems: ParsedListing["problems"] = [];
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let current: { raw: string; rel: string; names: Set<string>; problem?: string } | undefined;
  const close = () => {
    if (!current) return;
    if (current.problem) {
      problems.push({ name: current.raw, reason: current.problem });
    } else {
      const known = listings.get(current.rel);
      if (known) current.names.forEach((n) => known.add(n));
      else listings.set(current.rel, current.names);
    }
    current = undefined;
  };
  let pos = 0;
  while (pos < bytes.length) {
    const end = bytes.indexOf(0, pos);
    if (end === -1) {
      const problem = "the listing ends in the middle of a record";
      if (current) current.problem ??= problem;
      else problems.push({ name: lossy(bytes.subarray(pos)), reason: problem });
      break;
    }
    const raw = bytes.subarray(pos, end);
    pos = end + 1;
    let record: string;
    try {
      record = decoder.decode(raw);
    } catch {
      if (current) current.problem ??= "its listing holds a name that is not valid UTF-8";
      else problems.push({ name: lossy(raw), reason: "it is not valid UTF-8" });
      continue;
    }
    if (record === "./." || (record.startsWith("./") && record.endsWith("/."))) {
      close();
      const dirRaw = record.slice(0, -2);
      const rel = normalizeName(dirRaw);
      current = typeof rel === "string"
        ? { raw: dirRaw, rel, names: new Set() }
        : { raw: dirRaw, rel: "", names: new Set(), problem: rel.reason };
      continue;
    }
    if (!current) {
      problems.push({ name: record, reason: "the listing names it before any directory" });
      continue;
    }
    const prefix = `${current.raw}/./`;
    const name = record.startsWith(prefix) ? record.slice(prefix.length) : undefined;
    if (name === undefined || name === "" || name === "." || name === ".." || name.includes("/")) {
      current.problem ??= `its listing names ${JSON.stringify(record)}, which is not a child of it`;
      continue;
    }
    current.names.add(name);
  }
  close();
  return { listings, problems };
}

function lossy(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}
