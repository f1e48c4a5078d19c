/**
 * The identity of a build: a SHA-256 over the Dockerfile's name and every entry of the build
 * context (its relative path, kind, executable bit, a file's bytes, a link's target), in sorted
 * order, plus the builder and its arguments. Times and owners are left out, so the same action
 * at the same version gives the same digest on every runner, however it was checked out, and the
 * image built for it once is found again (build_target.ts makes it the tag).
 *
 * @example
 * ```ts
 * const digest = await contextDigest("/runner/_work/_actions/o/r/v1", "Dockerfile", ["kaniko"]);
 * digest.length; // 64 hex digits
 * ```
 * @module
 */
import type { Hash } from "node:crypto";

/** The hex SHA-256 of the build of `dockerfile` (relative to `contextDir`) with `extra`. */
export async function contextDigest(
  contextDir: string,
  dockerfile: string,
  extra: readonly string[],
): Promise<string> {
  // Imported where used, not at the top: see src/main.ts.
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  // Every field ends in NUL, which no path or argument holds: no two inputs hash the same bytes.
  const field = (text: string) => hash.update(text + "\0");
  field("kubehook-build-v1");
  field(dockerfile);
  extra.forEach(field);
  await walk(hash, field, contextDir, "");
  return hash.digest("hex");
}

async function walk(
  hash: Hash,
  field: (text: string) => void,
  root: string,
  rel: string,
): Promise<void> {
  const dir = rel ? `${root}/${rel}` : root;
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  names.sort();
  for (const name of names) {
    const path = rel ? `${rel}/${name}` : name;
    const info = await Deno.lstat(`${root}/${path}`);
    if (info.isSymlink) {
      field(`l ${path}`);
      field(await Deno.readLink(`${root}/${path}`));
    } else if (info.isDirectory) {
      field(`d ${path}`);
      await walk(hash, field, root, path);
    } else if (info.isFile) {
      field(`f${(info.mode ?? 0) & 0o111 ? "x" : "-"} ${path} ${info.size}`);
      // The readable closes the file when it ends or fails.
      const file = await Deno.open(`${root}/${path}`);
      for await (const chunk of file.readable) hash.update(chunk);
    } else {
      // Sockets and devices are not sent to the builder either (tar skips sockets): their
      // names still count.
      field(`o ${path}`);
    }
  }
}
