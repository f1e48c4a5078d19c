/**
 * Test trees for the transfer tests: {@link makeFidelityTree} writes one of every case a workspace
 * copy must keep (modes, mtimes, empty directories, relative/absolute/dangling links, hard links,
 * names with spaces, newlines, unicode and leading dashes, long paths and names), and
 * {@link snapshot} describes a tree so two can be compared byte for byte.
 *
 * @module
 */

/** What a test compares for one path. */
export interface NodeInfo {
  type: "file" | "dir" | "symlink" | "other";
  mode: number;
  /** Whole seconds (tar keeps seconds); undefined for links, whose mtime is not restored. */
  mtime?: number;
  /** SHA-256 of the content, for files. */
  sha256?: string;
  link?: string;
  /** Other paths of the same file (hard links), sorted. */
  sameAs?: string[];
}

export type Snapshot = Record<string, NodeInfo>;

const LONG_NAME = "n".repeat(250) + ".txt"; // 254 bytes: near NAME_MAX
const LONG_DIR = Array.from({ length: 6 }, (_, i) => `level-${i}-${"d".repeat(40)}`).join("/");

/** Writes the fidelity cases under `root` (which must exist). Returns the number of entries. */
export async function makeFidelityTree(root: string): Promise<number> {
  const files: [string, string | Uint8Array, number][] = [
    ["plain.txt", "hello\n", 0o644],
    ["script.sh", "#!/bin/sh\necho hi\n", 0o755],
    ["private", "secret-ish\n", 0o600],
    ["readonly.txt", "ro\n", 0o444],
    ["empty", "", 0o644],
    ["with space/a file.txt", "spaces\n", 0o644],
    ["new\nline", "newline in name\n", 0o644],
    ["unicod\u00e9/\u65e5\u672c\u8a9e.txt", "unicode\n", 0o644],
    ["-rf", "leading dash\n", 0o644],
    ["--help/-x", "dash dir\n", 0o755],
    [`${LONG_DIR}/${LONG_NAME}`, "long path and name\n", 0o644],
    ["random.bin", noise(65536 * 3 + 17), 0o640],
    ["hard/one", "hard linked\n", 0o644],
  ];
  for (const [rel, content, mode] of files) {
    await Deno.mkdir(parent(`${root}/${rel}`), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(`${root}/${rel}`, content);
    else await Deno.writeFile(`${root}/${rel}`, content);
    await Deno.chmod(`${root}/${rel}`, mode);
  }
  await Deno.link(`${root}/hard/one`, `${root}/hard/two`);
  await Deno.link(`${root}/hard/one`, `${root}/hard-three`);
  await Deno.mkdir(`${root}/empty-dir/nested-empty`, { recursive: true });
  await Deno.mkdir(`${root}/mode-dir`, { mode: 0o750 });
  await Deno.chmod(`${root}/mode-dir`, 0o750);
  await Deno.symlink("../plain.txt", `${root}/with space/rel-link`);
  await Deno.symlink("/etc/hostname", `${root}/abs-link`);
  await Deno.symlink("does/not/exist", `${root}/dangling`);
  await Deno.symlink("unicod\u00e9", `${root}/dir-link`);
  // Distinct, old mtimes, so a copy that forgets them shows.
  let t = 1_500_000_000;
  for (const rel of Object.keys(await snapshot(root)).sort().reverse()) {
    const info = await Deno.lstat(`${root}/${rel}`);
    if (!info.isSymlink) await Deno.utime(`${root}/${rel}`, t, t);
    t += 1000;
  }
  return Object.keys(await snapshot(root)).length;
}

/** Describes every path under `root` (relative, without `./`), not following links. */
export async function snapshot(root: string): Promise<Snapshot> {
  const out: Snapshot = {};
  const inodes = new Map<number, string[]>();
  async function walk(rel: string): Promise<void> {
    for await (const e of Deno.readDir(rel ? `${root}/${rel}` : root)) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      const abs = `${root}/${path}`;
      const info = await Deno.lstat(abs);
      const mode = (info.mode ?? 0) & 0o7777;
      const mtime = Math.floor((info.mtime?.getTime() ?? 0) / 1000);
      if (info.isSymlink) out[path] = { type: "symlink", mode: 0, link: await Deno.readLink(abs) };
      else if (info.isDirectory) {
        out[path] = { type: "dir", mode, mtime };
        await walk(path);
      } else if (info.isFile) {
        const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(abs));
        const sha256 = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0"))
          .join("");
        out[path] = { type: "file", mode, mtime, sha256 };
        if ((info.nlink ?? 1) > 1) inodes.set(info.ino!, [...inodes.get(info.ino!) ?? [], path]);
      } else out[path] = { type: "other", mode };
    }
  }
  await walk("");
  for (const paths of inodes.values()) {
    for (const p of paths) out[p].sameAs = paths.filter((q) => q !== p).sort();
  }
  return out;
}

/** `snapshot` without the fields a given receiver cannot keep. */
export function withoutDirMtimes(snap: Snapshot): Snapshot {
  return Object.fromEntries(
    Object.entries(snap).map(([k, v]) => [k, v.type === "dir" ? { ...v, mtime: undefined } : v]),
  );
}

/** Incompressible bytes (a fixed xorshift sequence, so failures reproduce). */
function noise(length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = 0x2545f491;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function parent(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}
