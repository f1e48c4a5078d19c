/**
 * Builds the read-only layers the image catalogue stacks into container root filesystems: a
 * busybox-static root, a distroless root holding only `/app`, small file layers (os-release, nginx's page, the runner's externals) and a
 * skeleton root whose /usr, /etc and library directories come from the host. Each layer is built
 * once per kubelet and shared by every container through overlayfs, so a pod costs no copies.
 *
 * @module
 */
import type { HostTools } from "./host_tools.ts";

/** The cached layers, by name. */
export type LayerName =
  | "busybox"
  | "distroless"
  | "alpine"
  | "nginx"
  | "host"
  | "etc-debian"
  | "etc-ubuntu"
  | "etc-runner"
  | "runner-home"
  | "kaniko";

/** Top-level host directories a host-userland image shows, as symlinks or read-only lowers. */
const HOST_TOP = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];
const SKELETON = ["proc", "sys", "dev", "home", "mnt", "opt", "run", "srv", "var/lib", "var/log"];
const STICKY = ["tmp", "var/tmp"];
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** The user the actions-runner image runs as, as upstream's image defines it. */
export const RUNNER_UID = 1001;

/** The host directories (of {@link HOST_TOP}, plus /usr) a host-userland image overlays. */
export function hostDirectories(): string[] {
  return ["usr", ...HOST_TOP].filter((name) => {
    try {
      return Deno.lstatSync(`/${name}`).isDirectory;
    } catch {
      return false;
    }
  });
}

/** Writes layer `name` into the empty directory `dir`. */
export async function buildLayer(name: LayerName, dir: string, tools: HostTools): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  switch (name) {
    case "busybox":
      return await buildBusybox(dir, tools);
    case "distroless":
      return await buildDistrolessApp(`${dir}/app`, tools);
    case "alpine":
      return await writeFiles(dir, {
        "etc/alpine-release": "3.20.3\n",
        "etc/os-release": osRelease("Alpine Linux", "alpine", "3.20.3", "Alpine Linux v3.20"),
      });
    case "nginx":
      return await writeFiles(dir, { "usr/share/nginx/html/index.html": NGINX_PAGE });
    case "host":
      return await buildHostSkeleton(dir);
    case "etc-debian":
      return await writeFiles(dir, {
        "etc/os-release": osRelease(
          "Debian GNU/Linux",
          "debian",
          "12",
          "Debian GNU/Linux 12 (bookworm)",
        ),
      });
    case "etc-ubuntu":
      return await writeFiles(dir, {
        "etc/os-release": osRelease("Ubuntu", "ubuntu", "24.04", "Ubuntu 24.04.1 LTS") +
          "ID_LIKE=debian\n",
      });
    case "etc-runner":
      return await buildRunnerEtc(dir);
    case "runner-home":
      return await buildRunnerHome(dir, tools);
    case "kaniko":
      return await buildKaniko(dir);
  }
}

/** The environment every catalogue image sets. */
export const IMAGE_PATH = `PATH=${PATH}`;

async function buildBusybox(dir: string, tools: HostTools): Promise<void> {
  const { stdout } = await new Deno.Command(tools.busybox, { args: ["--list"], stderr: "null" })
    .output();
  const applets = new TextDecoder().decode(stdout).split("\n").filter((a) => a && a !== "busybox");
  await skeleton(dir);
  await Deno.mkdir(`${dir}/bin`);
  for (const path of ["usr/bin", "usr/sbin", "sbin", "etc"]) {
    await Deno.mkdir(`${dir}/${path}`, { recursive: true });
  }
  await Deno.copyFile(tools.busybox, `${dir}/bin/busybox`);
  await Deno.chmod(`${dir}/bin/busybox`, 0o755);
  for (const applet of applets) await Deno.symlink("busybox", `${dir}/bin/${applet}`);
  await writeFiles(dir, {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
  });
}

/** The distroless image's only file: the static launcher of distroless_app.c (built with the
 * host's C compiler) with the static busybox and its size appended. */
export async function buildDistrolessApp(target: string, tools: HostTools): Promise<void> {
  const launcher = `${target}.launcher`;
  const source = new URL("./distroless_app.c", import.meta.url).pathname;
  const built = await new Deno.Command(tools.cc, {
    args: ["-static", "-Os", "-s", "-o", launcher, source],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!built.success) {
    throw new Error(
      `Cannot build the distroless.local/app image: ${tools.cc} failed: ` +
        `${
          new TextDecoder().decode(built.stderr).trim()
        }. Install gcc and libc6-dev (static libc).`,
    );
  }
  const busybox = await Deno.readFile(tools.busybox);
  const size = new Uint8Array(8);
  new DataView(size.buffer).setBigUint64(0, BigInt(busybox.byteLength), true);
  const file = await Deno.open(target, { write: true, create: true, truncate: true, mode: 0o755 });
  try {
    for (const part of [await Deno.readFile(launcher), busybox, size]) {
      let written = 0;
      while (written < part.byteLength) written += await file.write(part.subarray(written));
    }
  } finally {
    file.close();
  }
  await Deno.remove(launcher);
}

async function buildHostSkeleton(dir: string): Promise<void> {
  await skeleton(dir);
  await Deno.mkdir(`${dir}/usr`);
  await Deno.mkdir(`${dir}/etc`);
  for (const name of HOST_TOP) {
    try {
      const info = Deno.lstatSync(`/${name}`);
      if (info.isSymlink) await Deno.symlink(Deno.readLinkSync(`/${name}`), `${dir}/${name}`);
      else if (info.isDirectory) await Deno.mkdir(`${dir}/${name}`);
    } catch {
      // The host lacks this directory (e.g. lib32), so the image does too.
    }
  }
}

/** The host's /etc plus the runner user, as upstream's actions-runner image has it. */
async function buildRunnerEtc(dir: string): Promise<void> {
  const read = (path: string) => Deno.readTextFile(path).catch(() => "");
  const ensureLine = (text: string, line: string) =>
    (text && !text.endsWith("\n") ? `${text}\n` : text) + `${line}\n`;
  await writeFiles(dir, {
    "etc/os-release": osRelease("Ubuntu", "ubuntu", "22.04", "Ubuntu 22.04.5 LTS") +
      "ID_LIKE=debian\n",
    "etc/passwd": ensureLine(
      await read("/etc/passwd"),
      `runner:x:${RUNNER_UID}:${RUNNER_UID}::/home/runner:/bin/bash`,
    ),
    "etc/group": ensureLine(await read("/etc/group"), `runner:x:${RUNNER_UID}:`),
  });
}

/** /home/runner with the externals the hooks copy into job pods (node20 is the host's node). */
async function buildRunnerHome(dir: string, tools: HostTools): Promise<void> {
  const bin = `${dir}/home/runner/externals/node20/bin`;
  await Deno.mkdir(bin, { recursive: true });
  if (tools.node) {
    // A hard link shares the host's 100 MB binary; another filesystem needs a copy.
    await Deno.link(tools.node, `${bin}/node`).catch(() =>
      Deno.copyFile(tools.node!, `${bin}/node`)
    );
  }
  for (
    const path of [
      "home/runner",
      "home/runner/externals",
      "home/runner/externals/node20",
      "home/runner/externals/node20/bin",
    ]
  ) {
    await Deno.chown(`${dir}/${path}`, RUNNER_UID, RUNNER_UID);
  }
}

/** /kaniko of the executor image: the builder (tests/cluster/builder/executor.ts) bundled into
 * one script, run by this host's deno (a hard link when it lives outside the /usr the image
 * shows), behind `/kaniko/executor` as in the real image. */
async function buildKaniko(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/kaniko/.docker`, { recursive: true });
  await Deno.mkdir(`${dir}/workspace`);
  const source = new URL("../builder/executor.ts", import.meta.url).pathname;
  const bundled = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "-o", `${dir}/kaniko/executor.js`, source],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!bundled.success) {
    throw new Error(
      `Cannot build the Kaniko executor image: deno bundle ${source} failed: ` +
        new TextDecoder().decode(bundled.stderr).trim(),
    );
  }
  let deno = Deno.execPath();
  if (!deno.startsWith("/usr/")) {
    await Deno.link(deno, `${dir}/kaniko/deno`).catch(() =>
      Deno.copyFile(deno, `${dir}/kaniko/deno`)
    );
    deno = "/kaniko/deno";
  }
  await writeFiles(dir, {
    "kaniko/executor": `#!/bin/sh\nexec ${deno} run -A --quiet --no-config --no-lock ` +
      `/kaniko/executor.js "$@"\n`,
  });
  await Deno.chmod(`${dir}/kaniko/executor`, 0o755);
}

async function skeleton(dir: string): Promise<void> {
  for (const path of SKELETON) await Deno.mkdir(`${dir}/${path}`, { recursive: true });
  for (const path of STICKY) {
    await Deno.mkdir(`${dir}/${path}`, { recursive: true });
    await Deno.chmod(`${dir}/${path}`, 0o1777);
  }
  await Deno.mkdir(`${dir}/root`, { mode: 0o700 });
}

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const target = `${dir}/${path}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(target, content);
  }
}

function osRelease(name: string, id: string, version: string, pretty: string): string {
  return `NAME="${name}"\nID=${id}\nVERSION_ID="${version}"\nPRETTY_NAME="${pretty}"\n`;
}

const NGINX_PAGE = `<!DOCTYPE html>
<html>
<head><title>Welcome to nginx!</title></head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and working.</p>
</body>
</html>
`;
