/**
 * The real tier's Debian userland layer: what the `debian`, `ubuntu`, `node` and actions-runner
 * images hold, materialized from the host's own Debian packages (the embedded cluster shows the
 * host's directories through overlayfs; a real runtime needs the files in the image). The
 * packages' programs, the shared libraries they load (`ldd`), the loader's cache, and node.
 * Top-level `/bin`, `/lib`... are the host's merged-/usr symlinks.
 *
 * @module
 */

/** What a job container needs: a POSIX shell and bash, GNU coreutils, tar, find, xargs, gzip,
 * sed, grep, ps, setsid, which, hostname, and a static busybox for its wget. */
const PACKAGES = [
  "coreutils",
  "findutils",
  "tar",
  "gzip",
  "sed",
  "grep",
  "bash",
  "dash",
  "procps",
  "util-linux",
  "hostname",
  "debianutils",
  "busybox-static",
];
/** Names update-alternatives made, which the packages' file lists do not show. */
const ALTERNATIVES = ["/usr/bin/which"];
/** The loader's configuration, so libraries in the multiarch directories are found. */
const LOADER_FILES = ["/etc/ld.so.cache", "/etc/ld.so.conf"];
const TOP_LINKS = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

async function output(command: string, args: string[]): Promise<string> {
  const result = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
    .output();
  if (!result.success) {
    throw new Error(
      `Building the real tier's userland image: ${command} ${args.join(" ")} failed: ${
        new TextDecoder().decode(result.stderr).trim()
      }`,
    );
  }
  return new TextDecoder().decode(result.stdout);
}

/** The host path `path` names once its directory's symlinks are resolved (`/bin/sh` →
 * `/usr/bin/sh`), keeping the last component as it is (it may itself be a symlink). */
function canonical(path: string): string {
  const cut = path.lastIndexOf("/");
  return `${Deno.realPathSync(path.slice(0, cut) || "/")}/${path.slice(cut + 1)}`.replace(
    /^\/\//,
    "/",
  );
}

/** Copies one file or symlink of the host into the same place under `root`. */
async function copyIn(root: string, hostPath: string, done: Set<string>): Promise<void> {
  const path = canonical(hostPath);
  if (done.has(path)) return;
  done.add(path);
  const info = await Deno.lstat(path);
  const target = `${root}${path}`;
  await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
  if (info.isSymlink) {
    const link = await Deno.readLink(path);
    await Deno.symlink(link, target).catch(() => {});
    // The link's target comes too, so the name works in the image.
    const resolved = link.startsWith("/")
      ? link
      : `${path.slice(0, path.lastIndexOf("/"))}/${link}`;
    if (await Deno.stat(resolved).then((s) => s.isFile, () => false)) {
      await copyIn(root, resolved, done);
    }
  } else if (info.isFile) {
    await Deno.copyFile(path, target);
    await Deno.chmod(target, (info.mode ?? 0o644) & 0o7777);
  }
}

/** The shared libraries `file` loads, as `ldd` resolves them (none for static programs). */
async function librariesOf(file: string): Promise<string[]> {
  const result = await new Deno.Command("ldd", { args: [file], stdout: "piped", stderr: "null" })
    .output();
  if (!result.success) return [];
  return [...new TextDecoder().decode(result.stdout).matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]);
}

/** Writes the userland into the empty directory `root`; with `node`, the host's node at
 * /usr/bin/node. */
export async function buildUserland(root: string, options: { node?: string }): Promise<void> {
  // The merged-/usr links first: files are copied to their canonical /usr paths beneath them.
  for (const name of TOP_LINKS) {
    const info = await Deno.lstat(`/${name}`).catch(() => undefined);
    if (info?.isSymlink) await Deno.symlink(await Deno.readLink(`/${name}`), `${root}/${name}`);
  }
  const done = new Set<string>();
  const listed = [
    ...(await output("dpkg", ["-L", ...PACKAGES])).split("\n")
      .filter((p) => p.startsWith("/") && !p.startsWith("/usr/share/")),
    ...ALTERNATIVES,
  ];
  const programs: string[] = [];
  for (const path of listed) {
    const info = await Deno.lstat(path).catch(() => undefined);
    if (!info || info.isDirectory) continue;
    await copyIn(root, path, done);
    if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) programs.push(path);
  }
  if (options.node) {
    await Deno.mkdir(`${root}/usr/bin`, { recursive: true });
    await Deno.copyFile(options.node, `${root}/usr/bin/node`);
    await Deno.chmod(`${root}/usr/bin/node`, 0o755);
    programs.push(options.node);
  }
  for (const program of programs) {
    for (const library of await librariesOf(program)) await copyIn(root, library, done);
  }
  for (const file of LOADER_FILES) await copyIn(root, file, done).catch(() => {});
  for (const dir of ["tmp", "var/tmp"]) {
    await Deno.mkdir(`${root}/${dir}`, { recursive: true });
    await Deno.chmod(`${root}/${dir}`, 0o1777);
  }
  for (
    const dir of ["root", "home", "proc", "sys", "dev", "etc", "run", "var/lib", "var/log"]
      .concat(["usr/local/bin", "usr/local/sbin", "opt", "mnt", "srv"])
  ) {
    await Deno.mkdir(`${root}/${dir}`, { recursive: true });
  }
  await Deno.writeTextFile(
    `${root}/etc/passwd`,
    "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
  );
  await Deno.writeTextFile(`${root}/etc/group`, "root:x:0:\nnogroup:x:65534:\n");
}
