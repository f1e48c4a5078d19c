/**
 * The commit of a git checkout that kubehook runs from (`deno run src/main.ts`), read from the
 * repository's files rather than by running git, which a runner image may lack: `HEAD`, the
 * branch it names (a loose ref or `packed-refs`), a worktree's `.git` file.
 *
 * @example
 * ```ts
 * await sourceCommit(new URL("../../", import.meta.url).pathname); // "1a2b3c4d5e6f", or undefined
 * ```
 * @module
 */

/** The abbreviated (12-digit) commit checked out in `root`, or undefined when it is not a git
 * checkout or its files cannot be read. */
export async function sourceCommit(root: string): Promise<string | undefined> {
  try {
    let gitDir = `${root.replace(/\/$/, "")}/.git`;
    if ((await Deno.stat(gitDir)).isFile) {
      const pointer = /^gitdir: (.+)$/m.exec(await Deno.readTextFile(gitDir))?.[1]?.trim();
      if (!pointer) return undefined;
      gitDir = pointer.startsWith("/") ? pointer : `${root}/${pointer}`;
    }
    const head = (await Deno.readTextFile(`${gitDir}/HEAD`)).trim();
    const ref = /^ref: (.+)$/.exec(head)?.[1];
    const hash = ref ? await refHash(gitDir, ref) : head;
    return hash && /^[0-9a-f]{40,64}$/.test(hash) ? hash.slice(0, 12) : undefined;
  } catch {
    return undefined;
  }
}

async function refHash(gitDir: string, ref: string): Promise<string | undefined> {
  // A worktree keeps its HEAD apart but shares the refs of the main repository.
  const common = (await Deno.readTextFile(`${gitDir}/commondir`).catch(() => "")).trim();
  const refsDir = common ? (common.startsWith("/") ? common : `${gitDir}/${common}`) : gitDir;
  for (const dir of [gitDir, refsDir]) {
    const loose = await Deno.readTextFile(`${dir}/${ref}`).catch(() => undefined);
    if (loose) return loose.trim();
  }
  const packed = await Deno.readTextFile(`${refsDir}/packed-refs`).catch(() => "");
  return packed.split("\n").map((line) => line.split(" "))
    .find(([, name]) => name === ref)?.[0];
}
