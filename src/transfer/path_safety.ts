/**
 * Path safety for extracting an untrusted archive on the host: {@link TargetGuard.admit} is the
 * one check every entry goes through before anything is written, and the one that decides where
 * it goes. Its rules are the fixes of the `kubectl cp` CVEs (CVE-2018-1002100, CVE-2019-1002101,
 * CVE-2019-11246, CVE-2019-11249):
 * - no absolute names and no `..` component anywhere (not even one that would stay inside);
 * - no entry below a symbolic link, whether the link was on disk before or came earlier in the
 *   same archive: parent directories are checked with `lstat` on disk, never resolved;
 * - symbolic links may only point inside the target; hard links only to a regular file that is
 *   already inside it;
 * - only files, directories and links: no device nodes, FIFOs or unknown types.
 *
 * Missing parent directories are created here, one component at a time, so a parent is never
 * reached through a link. Directories already checked are remembered; the extractor calls
 * {@link TargetGuard.forget} when it replaces something, so the memory never goes stale.
 *
 * @module
 */
import type { TarEntry } from "./tar_reader.ts";

/** Where an admitted entry goes, or why it was refused. */
export type Verdict =
  | {
    ok: true;
    /** Normalised path relative to the target ("" for the target itself). */
    rel: string;
    /** Absolute path inside the target. */
    abs: string;
    /** For hard links: the absolute path of the existing file to link to. */
    linkAbs?: string;
  }
  | { ok: false; reason: string };

export class TargetGuard {
  /** Directories (relative paths) known to be real directories, not links. */
  #dirs = new Set<string>([""]);

  private constructor(readonly root: string) {}

  /** A guard for `root`, which must exist; its own path is resolved once (it may be a link). */
  static open(root: string): TargetGuard {
    const real = Deno.realPathSync(root);
    if (!Deno.statSync(real).isDirectory) {
      throw new Error(`Cannot extract into ${root}: it is not a directory.`);
    }
    return new TargetGuard(real);
  }

  /** Decides whether `entry` may be written, creating its missing parent directories. Uses
   * synchronous file calls: an archive of small files is thousands of them, and each async call
   * costs tens of microseconds more. */
  admit(entry: TarEntry): Verdict {
    if (!entry.utf8) return refuse("its name is not valid UTF-8");
    const name = normalizeName(entry.name);
    if (typeof name !== "string") return name;
    if (name === "" && entry.type !== "directory") return refuse("it names the target itself");
    const kind = typeProblem(entry);
    if (kind) return refuse(kind);
    let linkAbs: string | undefined;
    if (entry.type === "symlink") {
      const problem = symlinkProblem(name, entry.linkname);
      if (problem) return refuse(problem);
    } else if (entry.type === "hardlink") {
      const target = normalizeName(entry.linkname);
      if (typeof target !== "string") return refuse(`its link target ${target.reason}`);
      if (target === "" || target === name) return refuse("it links to itself or the target");
      const parents = this.#parents(target, false);
      if (parents) return refuse(`its link target is unusable: ${parents}`);
      linkAbs = this.#abs(target);
      const info = lstatOrNull(linkAbs);
      if (!info?.isFile) return refuse("its link target is not a regular file extracted before it");
    }
    const parents = this.#parents(name, true);
    if (parents) return refuse(parents);
    return { ok: true, rel: name, abs: this.#abs(name), linkAbs };
  }

  /** Whether `rel` (admitted earlier) is still reached without passing through a link, and is
   * (still) of the `kind` wanted: checked again before touching it late, since later entries may
   * have replaced its parents. */
  stillThere(rel: string, kind: "directory" | "symlink"): boolean {
    if (this.#parents(rel, false)) return false;
    const info = lstatOrNull(this.#abs(rel));
    return kind === "directory" ? info?.isDirectory === true : info?.isSymlink === true;
  }

  /** Records that `rel` is now a real directory. */
  noteDirectory(rel: string): void {
    this.#dirs.add(rel);
  }

  /** Forgets what is known about `rel` and everything below it (it was removed or replaced). */
  forget(rel: string): void {
    for (const dir of this.#dirs) {
      if (dir === rel || dir.startsWith(rel + "/")) this.#dirs.delete(dir);
    }
  }

  #abs(rel: string): string {
    return rel ? `${this.root}/${rel}` : this.root;
  }

  /** Checks (and with `create`, makes) each parent of `rel`; returns a problem or undefined. */
  #parents(rel: string, create: boolean): string | undefined {
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (this.#dirs.has(dir)) continue;
      const info = lstatOrNull(this.#abs(dir));
      if (info === null && create) {
        // Not recursive: each component is created (or checked) here, never through a link.
        Deno.mkdirSync(this.#abs(dir), { mode: 0o755 });
      } else if (info === null) {
        return `"${dir}" does not exist`;
      } else if (info.isSymlink) {
        return `it would be written through the symbolic link "${dir}"`;
      } else if (!info.isDirectory) {
        return `its parent "${dir}" is not a directory`;
      }
      this.#dirs.add(dir);
    }
    return undefined;
  }
}

/** Splits an archive name into a relative path: `./`, empty and trailing `/` parts are dropped;
 * absolute names, `..` components and NUL bytes are refused. */
export function normalizeName(name: string): string | { ok: false; reason: string } {
  if (name.includes("\0")) return refuse("its name contains a NUL byte");
  if (name.startsWith("/")) return refuse("its name is absolute");
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) return refuse('its name contains a ".." component');
  return parts.join("/");
}

/** The directory holding the relative path `rel` ("" for a top-level name). */
export function parentOf(rel: string): string {
  return rel.slice(0, Math.max(0, rel.lastIndexOf("/")));
}

/** Whether the relative path `rel` is one of `roots` or below one (all normalised). */
export function within(rel: string, roots: string[]): boolean {
  return roots.some((root) => rel === root || rel.startsWith(`${root}/`));
}

function typeProblem(entry: TarEntry): string | undefined {
  switch (entry.type) {
    case "file":
    case "directory":
    case "symlink":
    case "hardlink":
      return undefined;
    case "char-device":
    case "block-device":
      return "it is a device node";
    case "fifo":
      return "it is a FIFO";
    default:
      return `its type "${entry.typeflag}" is not supported`;
  }
}

/** A symbolic link may hold any text, but must resolve (lexically) inside the target. */
function symlinkProblem(rel: string, target: string): string | undefined {
  if (target === "") return "it is a symbolic link with an empty target";
  if (target.startsWith("/")) return `it is a symbolic link to the absolute path "${target}"`;
  const depth = [...rel.split("/").slice(0, -1), ...target.split("/")].reduce(
    (stack, part) => {
      if (stack < 0 || part === "" || part === ".") return stack;
      return part === ".." ? stack - 1 : stack + 1;
    },
    0,
  );
  return depth < 0
    ? `it is a symbolic link that leads outside the target ("${target}")`
    : undefined;
}

function refuse(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

/** Whether the path `abs` (inside `root`, usually a link just extracted) stays inside `root` when
 * resolved as the kernel would: component by component, following every link on the way (so a
 * link's `..` climbs from where the link really leads, not from its text), and reading whatever
 * does not exist yet as plain names. More than 40 links on the way count as leaving. */
export function resolvesInside(root: string, abs: string): boolean {
  const pending = abs.slice(root.length).split("/").filter((p) => p !== "" && p !== ".");
  const stack: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "..") {
      if (stack.length === 0) return false;
      stack.pop();
      continue;
    }
    const path = `${root}/${[...stack, part].join("/")}`;
    const info = lstatOrNull(path);
    if (!info?.isSymlink) {
      stack.push(part);
      continue;
    }
    if (++links > 40) return false;
    const target = Deno.readLinkSync(path);
    if (target.startsWith("/")) return false;
    pending.unshift(...target.split("/").filter((p) => p !== "" && p !== "."));
  }
  return true;
}

/** `Deno.lstatSync`, or null when nothing is there — also when a component on the way is not a
 * directory (a link in the archive may point below a file a later member made). */
export function lstatOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return null;
    }
    throw err;
  }
}
