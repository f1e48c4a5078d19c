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
 * @example
 * ```ts
 * const report = await extractTar(session.stdout, "/home/runner/_work");
 * for (const r of report.rejected) console.log(`skipped ${r.name}: ${r.reason}`);
 * ```
 * @module
 */
import { lstatOrNull, TargetGuard } from "./path_safety.ts";
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
}

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
): Promise<ExtractReport> {
  const guard = TargetGuard.open(target);
  const tar = new TarReader();
  const report: ExtractReport = {
    entries: 0,
    bytes: 0,
    contentBytes: 0,
    rejected: [],
    endMarker: false,
  };
  const dirs: DirMeta[] = [];
  const links: { name: string; rel: string; abs: string }[] = [];
  const umask = Deno.umask();
  let file: { handle: Deno.FsFile; abs: string; entry: TarEntry } | undefined;
  try {
    for await (const chunk of source) {
      report.bytes += chunk.length;
      for (const event of tar.push(chunk)) {
        if (event.kind === "data") {
          if (file) {
            writeAll(file.handle, event.bytes);
            report.contentBytes += event.bytes.length;
          }
        } else if (event.kind === "entry-end") {
          if (file) {
            finishFile(file.handle, file.abs, file.entry, umask);
            file = undefined;
          }
        } else {
          const entry = event.entry;
          const verdict = guard.admit(entry);
          if (!verdict.ok) {
            report.rejected.push({ name: entry.name, reason: verdict.reason });
            continue;
          }
          report.entries++;
          const { rel, abs } = verdict;
          if (entry.type === "directory") {
            if (rel !== "") {
              makeDirectory(guard, rel, abs);
              dirs.push({ rel, abs, mode: entry.mode, mtime: entry.mtime });
            }
          } else if (entry.type === "symlink") {
            replacing(guard, rel, abs, () => Deno.symlinkSync(entry.linkname, abs));
            links.push({ name: entry.name, rel, abs });
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
            file = { handle, abs, entry };
          }
        }
      }
    }
    report.endMarker = tar.finish().endMarker;
  } finally {
    file?.handle.close();
  }
  dropEscapingLinks(guard, links, report);
  // Deepest first, so restoring a parent's mtime is not undone by touching a child.
  for (const dir of dirs.reverse()) {
    if (!guard.stillThere(dir.rel, "directory")) continue;
    // Owner rwx stays: the runner must be able to clean `<work>` up after the job.
    Deno.chmodSync(dir.abs, (dir.mode & 0o777) | 0o700);
    Deno.utimeSync(dir.abs, dir.mtime, dir.mtime);
  }
  return report;
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
 * archive is on disk (`a -> b/..`, `b -> ../..`): resolve every new link and remove those that
 * end up outside. Dangling links were already checked by their text. */
function dropEscapingLinks(
  guard: TargetGuard,
  links: { name: string; rel: string; abs: string }[],
  report: ExtractReport,
): void {
  for (const link of links) {
    if (!guard.stillThere(link.rel, "symlink")) continue;
    let resolved: string;
    try {
      resolved = Deno.realPathSync(link.abs);
    } catch {
      continue;
    }
    if (resolved === guard.root || resolved.startsWith(guard.root + "/")) continue;
    Deno.removeSync(link.abs);
    report.entries--;
    report.rejected.push({
      name: link.name,
      reason: "it is a symbolic link that resolves outside the target",
    });
  }
}

function writeAll(handle: Deno.FsFile, bytes: Uint8Array): void {
  for (let pos = 0; pos < bytes.length;) pos += handle.writeSync(bytes.subarray(pos));
}
