/**
 * Extracts an UNTRUSTED tar stream (what a job pod sends back) into a directory on the host.
 * Every entry goes through {@link TargetGuard.admit} first; refused entries are skipped and
 * reported by name, and nothing outside the target is created, changed or removed. Content is
 * written as it arrives (no temporary files, memory stays flat); the stream's own pace is the
 * only flow control.
 *
 * What is kept: regular files (content, permission bits without setuid/setgid/sticky, mtime),
 * directories (mode and mtime, applied after their contents), symbolic links that stay inside the
 * target, and hard links to files already inside it. An existing file, link or directory in the
 * way of an entry is replaced, like `tar x` does; a new file is created with O_EXCL, so an
 * existing link is never written through.
 *
 * With `listing`, the member {@link LISTING_MEMBER} is not written: it is the pod's listing of the
 * directories that changed (`dir_listing.ts`), and once the archive is extracted, what the pod
 * deleted in them is removed from the target too (`host_prune.ts`, with the same distrust).
 *
 * @example
 * ```ts
 * const report = await extractTar(session.stdout, "/home/runner/_work");
 * for (const r of report.rejected) console.log(`skipped ${r.name}: ${r.reason}`);
 * ```
 * @module
 */
import { concat } from "../bytes.ts";
import { LISTING_MEMBER, type ParsedListing, parseListing } from "./dir_listing.ts";
import { removeUnlisted } from "./host_prune.ts";
import {
  lstatOrNull,
  normalizeName,
  parentOf,
  resolvesInside,
  TargetGuard,
  within,
} from "./path_safety.ts";
import { type TarEntry, TarReader } from "./tar_reader.ts";

/** An entry that was not extracted, and why. */
export interface RejectedEntry {
  name: string;
  reason: string;
}

export interface ExtractReport {
  /** Entries written (files, directories, links). */
  entries: number;
  /** Bytes read from the stream (the archive, padding included). */
  bytes: number;
  /** Bytes of file content written. */
  contentBytes: number;
  rejected: RejectedEntry[];
  /** Whether the archive ended with an end-of-archive block (false for an empty stream). */
  endMarker: boolean;
  /** Entries removed because the pod deleted them (with `listing`). */
  deleted: number;
  /** With `listing`: the directories whose listing was applied, and the paths the pod listed
   * that the target does not hold (refused, or never sent: sockets). */
  listed?: { dirs: string[]; podOnly: string[] };
}

/** Options of {@link extractTar}. */
export interface ExtractOptions {
  /** Relative paths never written nor removed (kubehook's bookkeeping, the runner's hook
   * responses): entries in them are refused. */
  protect?: string[];
  /** Read the pod's directory listing and remove what the pod deleted. */
  listing?: boolean;
}

/** A listing larger than this is refused: a real one takes a few bytes per name. */
const MAX_LISTING_BYTES = 64 * 1024 * 1024;

interface DirMeta {
  rel: string;
  abs: string;
  mode: number;
  mtime: number;
}

/** Reads `source` to its end and extracts it into `target` (which must exist). Throws
 * `TarFormatError` when the stream is not a tar archive or ends inside an entry; entries
 * extracted before that stay. File calls are synchronous: per small file they are several times
 * cheaper than async ones (measured in bench/transfer_bench.ts), and the stream waits meanwhile. */
export async function extractTar(
  source: ReadableStream<Uint8Array>,
  target: string,
  options: ExtractOptions = {},
): Promise<ExtractReport> {
  const extractor = new TarExtractor(target, options);
  try {
    for await (const chunk of source) extractor.push(chunk);
  } catch (error) {
    extractor.close();
    throw error;
  }
  return extractor.finish();
}

/** {@link extractTar} fed by hand: {@link push} each piece of the archive as it arrives (it is
 * written before `push` returns, so the piece may be a view of a buffer that is reused next),
 * then {@link finish}; or {@link close} after a failure. */
export class TarExtractor {
  readonly #guard: TargetGuard;
  readonly #tar = new TarReader();
  readonly #report: ExtractReport = {
    entries: 0,
    bytes: 0,
    contentBytes: 0,
    rejected: [],
    endMarker: false,
    deleted: 0,
  };
  readonly #protect: string[];
  /** Only names that contain the first component of a protected path (or of the listing) are
   * normalised again here: a cheap filter, since admit() normalises every name anyway. */
  readonly #watched: string[];
  readonly #listingWanted: boolean;
  /** What this transfer wrote exists in the pod, whatever a listing taken earlier says. */
  readonly #written: Set<string> | undefined;
  readonly #listing = { parts: [] as Uint8Array[], bytes: 0, reading: false };
  readonly #dirs: DirMeta[] = [];
  readonly #links: { name: string; rel: string; abs: string }[] = [];
  readonly #umask = Deno.umask();
  #file: { handle: Deno.FsFile; abs: string; entry: TarEntry } | undefined;

  /** Throws when `target` cannot be written to. */
  constructor(target: string, options: ExtractOptions = {}) {
    this.#guard = TargetGuard.open(target);
    this.#protect = (options.protect ?? []).map(normalizeName).filter((p) => typeof p === "string");
    this.#listingWanted = options.listing ?? false;
    this.#watched = [...this.#protect, ...(this.#listingWanted ? [LISTING_MEMBER] : [])]
      .map((path) => path.split("/")[0]);
    this.#written = this.#listingWanted ? new Set<string>() : undefined;
  }

  /** Extracts what `chunk` completes. Throws `TarFormatError` when the bytes are not a tar
   * archive, and what the file system throws. */
  push(chunk: Uint8Array): void {
    const report = this.#report;
    const listing = this.#listing;
    report.bytes += chunk.length;
    for (const event of this.#tar.push(chunk)) {
      if (event.kind === "data") {
        const file = this.#file;
        if (file) {
          writeAll(file.handle, event.bytes);
          report.contentBytes += event.bytes.length;
        } else if (listing.reading) {
          listing.bytes += event.bytes.length;
          if (listing.bytes <= MAX_LISTING_BYTES) listing.parts.push(event.bytes.slice());
        }
      } else if (event.kind === "entry-end") {
        const file = this.#file;
        if (file) {
          this.#file = undefined;
          finishFile(file.handle, file.abs, file.entry, this.#umask);
        }
        listing.reading = false;
      } else {
        this.#onEntry(event.entry);
      }
    }
  }

  /** At the end of the archive: throws when it ended inside an entry; otherwise removes what
   * the pod deleted (with `listing`), restores the directories' modes and times and returns
   * what was done. */
  finish(): ExtractReport {
    const report = this.#report;
    const guard = this.#guard;
    try {
      report.endMarker = this.#tar.finish().endMarker;
    } finally {
      this.close();
    }
    dropEscapingLinks(guard, this.#links, report);
    if (this.#written) {
      // Before directory times are restored: removing a child changes its parent's mtime.
      const pruned = removeUnlisted(guard, readListing(this.#listing), {
        protect: this.#protect,
        written: this.#written,
      });
      report.deleted = pruned.removed;
      report.rejected.push(...pruned.rejected);
      report.listed = { dirs: pruned.dirs, podOnly: pruned.podOnly };
    }
    // Deepest first, so restoring a parent's mtime is not undone by touching a child.
    for (const dir of this.#dirs.reverse()) {
      if (!guard.stillThere(dir.rel, "directory")) continue;
      // Owner rwx stays: the runner must be able to clean `<work>` up after the job.
      Deno.chmodSync(dir.abs, (dir.mode & 0o777) | 0o700);
      Deno.utimeSync(dir.abs, dir.mtime, dir.mtime);
    }
    return report;
  }

  /** Closes the file being written, if any (after a failure; {@link finish} does it too). */
  close(): void {
    this.#file?.handle.close();
    this.#file = undefined;
  }

  #onEntry(entry: TarEntry): void {
    const report = this.#report;
    const guard = this.#guard;
    if (this.#watched.some((part) => entry.name.includes(part) || entry.linkname.includes(part))) {
      const name = normalizeName(entry.name);
      if (this.#listingWanted && name === LISTING_MEMBER && entry.type === "file") {
        this.#listing.reading = true;
        return;
      }
      const problem = typeof name === "string"
        ? protectedProblem(name, entry, this.#protect)
        : undefined;
      if (problem) {
        report.rejected.push({ name: entry.name, reason: problem });
        return;
      }
    }
    if (entry.type === "hardlink" && isRepeat(entry, guard.root)) {
      // GNU tar given a path twice (a directory and something inside it, both changed) sends the
      // second as a hard link to the first, the same name: linking a file to itself changes
      // nothing, so it is passed over, not refused with a warning.
      return;
    }
    const verdict = guard.admit(entry);
    if (!verdict.ok) {
      report.rejected.push({ name: entry.name, reason: verdict.reason });
      return;
    }
    report.entries++;
    const { rel, abs } = verdict;
    if (this.#written) noteWritten(this.#written, rel);
    if (entry.type === "directory") {
      if (rel !== "") {
        makeDirectory(guard, rel, abs);
        this.#dirs.push({ rel, abs, mode: entry.mode, mtime: entry.mtime });
      }
    } else if (entry.type === "symlink") {
      replacing(guard, rel, abs, () => Deno.symlinkSync(entry.linkname, abs));
      this.#links.push({ name: entry.name, rel, abs });
    } else if (entry.type === "hardlink") {
      replacing(guard, rel, abs, () => Deno.linkSync(verdict.linkAbs!, abs));
    } else {
      // O_EXCL: an existing file or link is removed first, never written through.
      const handle = replacing(
        guard,
        rel,
        abs,
        () => Deno.openSync(abs, { write: true, createNew: true, mode: entry.mode & 0o777 }),
      );
      this.#file = { handle, abs, entry };
    }
  }
}

/** Why `entry` (named `name`) would touch a path kubehook never syncs: the path itself, a
 * directory above it replaced by something else, or a hard link to it. */
function protectedProblem(name: string, entry: TarEntry, protect: string[]): string | undefined {
  if (within(name, protect)) return "kubehook never syncs this path";
  if (entry.type !== "directory" && protect.some((p) => p.startsWith(`${name}/`))) {
    return "it would replace a directory that holds a path kubehook never syncs";
  }
  const target = entry.type === "hardlink" ? normalizeName(entry.linkname) : undefined;
  if (typeof target === "string" && within(target, protect)) {
    return "it is a hard link to a path kubehook never syncs";
  }
  return undefined;
}

/** Makes `abs` a directory, replacing a file or link that is in the way. */
function makeDirectory(guard: TargetGuard, rel: string, abs: string): void {
  const info = lstatOrNull(abs);
  if (info && !info.isDirectory) Deno.removeSync(abs);
  if (!info?.isDirectory) Deno.mkdirSync(abs, { mode: 0o700 });
  guard.noteDirectory(rel);
}

/** Runs `create`; when something is already at `abs`, removes it (a whole directory too: the
 * pod replaced it; Deno's recursive remove does not follow links) and runs `create` again. */
function replacing<T>(guard: TargetGuard, rel: string, abs: string, create: () => T): T {
  try {
    return create();
  } catch (err) {
    if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
  }
  const isDirectory = lstatOrNull(abs)?.isDirectory === true;
  if (isDirectory) guard.forget(rel);
  Deno.removeSync(abs, { recursive: isDirectory });
  return create();
}

function finishFile(handle: Deno.FsFile, abs: string, entry: TarEntry, umask: number): void {
  try {
    handle.utimeSync(entry.mtime, entry.mtime);
  } finally {
    handle.close();
  }
  // setuid/setgid/sticky are dropped: the content comes from an untrusted pod. The umask only
  // ever removes bits, so a chmod is needed only when it removed some.
  if ((entry.mode & 0o777 & umask) !== 0) Deno.chmodSync(abs, entry.mode & 0o777);
}

/** A chain of links that are each inside the target can still lead out of it once the whole
 * archive is on disk (`a -> b/..`, `b -> ../..`, or `up -> ..` with `x -> up/../../later`, whose
 * end need not exist yet): resolve every new link as the kernel would and remove those that end
 * up outside. */
function dropEscapingLinks(
  guard: TargetGuard,
  links: { name: string; rel: string; abs: string }[],
  report: ExtractReport,
): void {
  for (const link of links) {
    if (!guard.stillThere(link.rel, "symlink")) continue;
    if (resolvesInside(guard.root, link.abs)) continue;
    Deno.removeSync(link.abs);
    report.entries--;
    report.rejected.push({
      name: link.name,
      reason: "it is a symbolic link that resolves outside the target",
    });
  }
}

function readListing(listing: { parts: Uint8Array[]; bytes: number }): ParsedListing {
  if (listing.bytes <= MAX_LISTING_BYTES) return parseListing(concat(listing.parts));
  const reason = `it is larger than ${MAX_LISTING_BYTES} bytes`;
  return { listings: new Map(), problems: [{ name: LISTING_MEMBER, reason }] };
}

/** Adds `rel` and its parents to `written`. */
function noteWritten(written: Set<string>, rel: string): void {
  for (let path = rel; path !== "" && !written.has(path);) {
    written.add(path);
    path = parentOf(path);
  }
}

function writeAll(handle: Deno.FsFile, bytes: Uint8Array): void {
  for (let pos = 0; pos < bytes.length;) pos += handle.writeSync(bytes.subarray(pos));
}

/** A hard link to its own name, where a regular file of that name is already in the target. */
function isRepeat(entry: TarEntry, root: string): boolean {
  const name = normalizeName(entry.name);
  return typeof name === "string" && name !== "" && normalizeName(entry.linkname) === name &&
    lstatOrNull(`${root}/${name}`)?.isFile === true;
}
