/**
 * What the local cluster needs from the host, checked in one place before anything starts: root
 * (pods are overlay mounts and network namespaces), `bwrap`, `unshare`, `nsenter`, `mount`, a
 * static busybox at /bin/busybox or /usr/bin/busybox (the busybox images' only binary),
 * `openssl` (the API server's certificates), a C compiler with a static libc (the distroless
 * image's launcher), and for the cluster's registry Debian's `docker-registry`, `htpasswd`
 * (apache2-utils) and `socat` (its listener in the pod network). When something is missing, root
 * with apt-get installs it; otherwise the caller stops at once with the exact command to run.
 *
 * `deno task demo` calls it first; `.ci/run`-like scripts can run this file directly.
 *
 * @example
 * ```ts
 * await ensureClusterPrerequisites({ install: true, log: console.log });
 * ```
 * ```sh
 * deno run -A tests/cluster/prerequisites.ts   # checks and installs; exit 1 with the fix if it cannot
 * ```
 * @module
 */
import { findOnPath, isExecutable } from "./kubelet/host_tools.ts";

/** Something the host lacks and the Debian package that provides it. */
export interface Missing {
  /** What is missing, as a user would look for it (`bwrap`, `a static busybox`). */
  what: string;
  package: string;
}

/** What was found on the host; the input of {@link planPrerequisites}. */
export interface HostFindings {
  missing: Missing[];
  root: boolean;
  /** apt-get is on PATH. */
  aptGet: boolean;
}

/** What to do about the findings. */
export type PrerequisitePlan =
  | { action: "ready" }
  | { action: "install"; packages: string[] }
  | { action: "stop"; message: string };

/** Options of {@link ensureClusterPrerequisites}. */
export interface EnsureOptions {
  /** Install missing packages with apt-get when running as root. */
  install: boolean;
  /** Progress lines (what is installed); default silent. */
  log?: (line: string) => void;
  /** More programs (→ their Debian packages) to require, e.g. the real tier's. */
  programs?: Record<string, string>;
  /** Files (→ their Debian packages) to require. */
  files?: Record<string, string>;
}

/** What to look for beyond the embedded cluster's own needs. */
export type ExtraNeeds = Pick<EnsureOptions, "programs" | "files">;

/** The host cannot run the local cluster; the message names what is missing and the fix. */
export class PrerequisiteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PrerequisiteError";
  }
}

const PROGRAMS: Record<string, string> = {
  bwrap: "bubblewrap",
  unshare: "util-linux",
  nsenter: "util-linux",
  mount: "mount",
  openssl: "openssl",
  cc: "gcc",
  ip: "iproute2",
  "docker-registry": "docker-registry",
  htpasswd: "apache2-utils",
  socat: "socat",
};
/** Static C libraries (libc6-dev), which the distroless test image's `/app` links. */
const STATIC_LIBC = [
  "/usr/lib/x86_64-linux-gnu/libc.a",
  "/usr/lib/aarch64-linux-gnu/libc.a",
  "/usr/lib64/libc.a",
  "/usr/lib/libc.a",
];
const BUSYBOX_PATHS = ["/bin/busybox", "/usr/bin/busybox"];
/** ELF program header type of the dynamic loader's path: present only in dynamic executables. */
const PT_INTERP = 3;
/** How much of an executable holds its ELF and program headers (read, not the whole binary). */
const ELF_HEAD_BYTES = 64 * 1024;

/** Decides what to do: pure, so every branch is testable without changing the host. */
export function planPrerequisites(findings: HostFindings, install: boolean): PrerequisitePlan {
  const packages = [...new Set(findings.missing.map((m) => m.package))];
  const lacking = findings.missing.map((m) => m.what).join(", ");
  const command = `apt-get update && apt-get install -y ${packages.join(" ")}`;
  if (!findings.root) {
    const fix = packages.length === 0
      ? "Run the command again as root"
      : `This machine also lacks ${lacking}: run \`sudo sh -c '${command}'\`, then run the ` +
        "command again as root";
    return {
      action: "stop",
      message: "The local cluster must run as root: its pods are overlay mounts and network " +
        `namespaces. ${fix} (for example in a \`sudo -i\` shell).`,
    };
  }
  if (packages.length === 0) return { action: "ready" };
  if (install && findings.aptGet) return { action: "install", packages };
  const fix = findings.aptGet
    ? `run \`${command}\``
    : `install them with your package manager (Debian packages: ${packages.join(", ")})`;
  return {
    action: "stop",
    message: `The local cluster cannot start: this machine lacks ${lacking}. To fix it, ${fix}.`,
  };
}

/** Looks at the host: programs on PATH, the busybox binary, the user. */
export async function findHostPrerequisites(
  path = Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin",
  extra: ExtraNeeds = {},
): Promise<HostFindings> {
  const onPath = (name: string) => findOnPath(name, path) !== undefined;
  const missing: Missing[] = Object.entries({ ...PROGRAMS, ...extra.programs })
    .filter(([program]) => !onPath(program))
    .map(([program, pkg]) => ({ what: program, package: pkg }));
  for (const [file, pkg] of Object.entries(extra.files ?? {})) {
    if (!isFile(file)) missing.push({ what: file, package: pkg });
  }
  if (!STATIC_LIBC.some(isFile)) {
    missing.push({ what: "a static C library (libc.a)", package: "libc6-dev" });
  }
  const busybox = BUSYBOX_PATHS.find(isExecutable);
  if (busybox === undefined) {
    missing.push({ what: "busybox (at /bin/busybox)", package: "busybox-static" });
  } else if (!await isStaticExecutable(busybox)) {
    missing.push({
      what: `a static busybox (${busybox} is dynamically linked)`,
      package: "busybox-static",
    });
  }
  return { missing, root: Deno.uid() === 0, aptGet: onPath("apt-get") };
}

/** Checks the host and, when allowed, installs what is missing; throws {@link PrerequisiteError}
 * with the exact command to run when the cluster still cannot start. */
export async function ensureClusterPrerequisites(options: EnsureOptions): Promise<void> {
  const plan = planPrerequisites(await findHostPrerequisites(undefined, options), options.install);
  if (plan.action === "ready") return;
  if (plan.action === "stop") throw new PrerequisiteError(plan.message);
  options.log?.(`Installing ${plan.packages.join(", ")} for the local cluster (apt-get)…`);
  await aptGet(["update"]);
  await aptGet(["install", "-y", "--no-install-recommends", ...plan.packages]);
  const after = await findHostPrerequisites(undefined, options);
  if (after.missing.length > 0) {
    throw new PrerequisiteError(
      `apt-get installed ${plan.packages.join(", ")}, but the local cluster still lacks ` +
        `${after.missing.map((m) => m.what).join(", ")}. Check PATH (it must include /usr/bin).`,
    );
  }
}

async function aptGet(args: string[]): Promise<void> {
  const output = await new Deno.Command("apt-get", {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-5).join("\n");
    throw new PrerequisiteError(
      `\`apt-get ${args.join(" ")}\` failed (exit ${output.code}); run it yourself to see why:\n` +
        stderr,
    );
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** True when the ELF file has no PT_INTERP program header (no dynamic loader needed), which is
 * what lets the busybox images run it with nothing else in their root. */
export async function isStaticExecutable(path: string): Promise<boolean> {
  const bytes = await readHead(path, ELF_HEAD_BYTES);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 64 || view.getUint32(0) !== 0x7f454c46) return false;
  const is64 = bytes[4] === 2;
  const little = bytes[5] === 1;
  const phoff = is64 ? Number(view.getBigUint64(32, little)) : view.getUint32(28, little);
  const phentsize = view.getUint16(is64 ? 54 : 42, little);
  const phnum = view.getUint16(is64 ? 56 : 44, little);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    // Headers beyond the part read: not provably static (real executables keep them near 64).
    if (at + 4 > bytes.length) return false;
    if (view.getUint32(at, little) === PT_INTERP) return false;
  }
  return true;
}

async function readHead(path: string, size: number): Promise<Uint8Array> {
  using file = await Deno.open(path);
  const buffer = new Uint8Array(size);
  let filled = 0;
  while (filled < size) {
    const read = await file.read(buffer.subarray(filled));
    if (read === null) break;
    filled += read;
  }
  return buffer.subarray(0, filled);
}

if (import.meta.main) {
  try {
    await ensureClusterPrerequisites({ install: true, log: console.log });
  } catch (error) {
    if (!(error instanceof PrerequisiteError)) throw error;
    console.error(error.message);
    Deno.exit(1);
  }
}
