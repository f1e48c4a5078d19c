/**
 * The real tier's programs, built from modules pinned in go.mod files into a cache outside the
 * work tree, once per pinned set. Two sets, each with its own module and cache directory:
 *
 * - `bin-KEY` from `tests/realcluster/go.mod`: etcd, kube-apiserver, kube-controller-manager,
 *   kube-scheduler, kubelet and the pod sandbox's `pause`;
 * - `kaniko-KEY` from `tests/realcluster/kaniko/go.mod`: Kaniko's executor, built from the sources
 *   of the maintained fork (github.com/osscontainertools/kaniko) for the image the builder pods
 *   run (images.ts). A module of its own, so the Kubernetes pins never move for Kaniko's sake and
 *   the executor links exactly the versions Kaniko's own go.mod requires (it has no `replace`).
 *
 * A set's cache key is a hash of its go.mod, go.sum (and sources of its own), the build flags
 * and the Go version, so a changed pin builds that set anew and an unchanged one never does. A
 * build goes to a temporary directory that is renamed into place only when complete, so an
 * interrupted build is never mistaken for a finished one.
 *
 * ```sh
 * deno run -A tests/realcluster/build.ts   # installs and builds what is missing, prints the cache
 * ```
 * @module
 */

const HERE = new URL(".", import.meta.url).pathname;

/** One pinned module's programs and how they are built. */
interface ProgramSet {
  /** The cache directory's prefix: `PREFIX-KEY`. */
  prefix: string;
  /** The directory of the set's go.mod, where `go build` runs. */
  moduleDir: string;
  /** Program name → Go package. */
  programs: Record<string, string>;
  /** Files of the module keying the cache besides go.mod and go.sum. */
  sources: string[];
  /** The linker flags: stripped, and the version the programs report (the one go.mod pins,
   * which `go build` of a module dependency does not stamp by itself). */
  linkerFlags(): Promise<string>;
  /** The module version a program is built from, for progress lines ("" for local ones). */
  version(pkg: string): Promise<string>;
}

/** Program name → Go package, in tests/realcluster/go.mod. */
const KUBERNETES_PROGRAMS = {
  "etcd": "go.etcd.io/etcd/server/v3",
  "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
  "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
  "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
  "kubelet": "k8s.io/kubernetes/cmd/kubelet",
  "pause": "./pause",
};

/** The Kaniko fork whose executor the builder image runs. */
export const KANIKO_MODULE = "github.com/osscontainertools/kaniko";

/** Program name → Go package, in tests/realcluster/kaniko/go.mod. */
const KANIKO_PROGRAMS = { "kaniko-executor": `${KANIKO_MODULE}/cmd/executor` };

const KUBERNETES: ProgramSet = {
  prefix: "bin",
  moduleDir: HERE,
  programs: KUBERNETES_PROGRAMS,
  sources: ["pause/main.go"],
  async linkerFlags() {
    const version = await pinnedVersion(HERE, "k8s.io/kubernetes");
    const [, major, minor] = version.match(/^v(\d+)\.(\d+)/) ?? [];
    return [
      "-s",
      "-w",
      `-X k8s.io/component-base/version.gitVersion=${version}`,
      `-X k8s.io/component-base/version.gitMajor=${major}`,
      `-X k8s.io/component-base/version.gitMinor=${minor}`,
      "-X k8s.io/component-base/version.gitTreeState=clean",
      "-X k8s.io/component-base/version.buildDate=2026-01-01T00:00:00Z",
      `-X k8s.io/client-go/pkg/version.gitVersion=${version}`,
    ].join(" ");
  },
  version: (pkg) =>
    pkg.startsWith(".")
      ? Promise.resolve("")
      : pinnedVersion(HERE, pkg.startsWith("k8s.io/kubernetes") ? "k8s.io/kubernetes" : pkg),
};

const KANIKO: ProgramSet = {
  prefix: "kaniko",
  moduleDir: `${HERE}kaniko/`,
  programs: KANIKO_PROGRAMS,
  sources: [],
  // As Kaniko's Makefile links it (`-X .../pkg/version.version=vX -w -s`): `executor version`.
  linkerFlags: async () => `-s -w -X ${KANIKO_MODULE}/pkg/version.version=${await kanikoVersion()}`,
  version: () => kanikoVersion(),
};

/** The Kaniko release tests/realcluster/kaniko/go.mod pins (v1.26.5). */
export function kanikoVersion(): Promise<string> {
  return pinnedVersion(KANIKO.moduleDir, KANIKO_MODULE);
}

const SETS = [KUBERNETES, KANIKO];

/** Where the real tier keeps what it builds: `$KUBEHOOK_REALCLUSTER_CACHE`, else
 * `${XDG_CACHE_HOME:-~/.cache}/kubehook/realcluster`. */
export function cacheRoot(): string {
  const explicit = Deno.env.get("KUBEHOOK_REALCLUSTER_CACHE");
  if (explicit) return explicit;
  const base = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache`;
  return `${base}/kubehook/realcluster`;
}

/** Absolute paths of the built programs (`kaniko-executor` is Kaniko's `/kaniko/executor`). */
export type Programs = Record<
  keyof typeof KUBERNETES_PROGRAMS | keyof typeof KANIKO_PROGRAMS,
  string
>;

async function run(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
) {
  const output = await new Deno.Command(command, {
    args,
    cwd,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output().catch((error) => {
    throw new Error(
      `The real-Kubernetes tier needs ${command} (${error.message}). Install Go 1.25 or newer.`,
    );
  });
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(
      `\`${command} ${args.join(" ")}\` failed in ${cwd}:\n${
        decoder.decode(output.stderr).trim().split("\n").slice(-20).join("\n")
      }`,
    );
  }
  return decoder.decode(output.stdout);
}

/** The version the go.mod in `moduleDir` pins for `module` (k8s.io/kubernetes v1.34.4, etcd
 * v3.6.4, Kaniko v1.26.5). */
async function pinnedVersion(moduleDir: string, module: string): Promise<string> {
  const goMod = await Deno.readTextFile(`${moduleDir}go.mod`);
  const escaped = module.replaceAll(".", "\\.");
  return goMod.match(new RegExp(`^\\s*(?:require\\s+)?${escaped} (v\\S+)`, "m"))?.[1] ?? "";
}

/** The cache key of a pinned set. */
async function buildKey(set: ProgramSet): Promise<string> {
  const parts = [
    ...await Promise.all(
      ["go.mod", "go.sum", ...set.sources].map((f) => Deno.readTextFile(`${set.moduleDir}${f}`)),
    ),
    await set.linkerFlags(),
    await run("go", ["version"], set.moduleDir),
  ];
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\0")));
  return Array.from(new Uint8Array(digest).slice(0, 8), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** The programs, built first when the cache lacks them; `log` gets progress lines. */
export async function ensurePrograms(log: (line: string) => void = () => {}): Promise<Programs> {
  const paths: Record<string, string> = {};
  for (const set of SETS) Object.assign(paths, await ensureSet(set, log));
  return paths as Programs;
}

/** One set's programs, built first when the cache lacks them. */
async function ensureSet(
  set: ProgramSet,
  log: (line: string) => void,
): Promise<Record<string, string>> {
  const dir = `${cacheRoot()}/${set.prefix}-${await buildKey(set)}`;
  const paths = Object.fromEntries(
    Object.keys(set.programs).map((name) => [name, `${dir}/${name}`]),
  );
  if (await Deno.stat(dir).then(() => true, () => false)) return paths;
  const partial = `${dir}.partial-${crypto.randomUUID().slice(0, 8)}`;
  const ldflags = await set.linkerFlags();
  await Deno.mkdir(partial, { recursive: true });
  try {
    for (const [name, pkg] of Object.entries(set.programs)) {
      const version = await set.version(pkg);
      log(`building ${name}${version ? ` ${version}` : ""} …`);
      const started = performance.now();
      // One package per go build: a shared build cache makes the later ones mostly linking.
      await run(
        "go",
        ["build", "-trimpath", "-ldflags", ldflags, "-o", `${partial}/${name}`, pkg],
        set.moduleDir,
        { CGO_ENABLED: "0" },
      );
      log(`built ${name} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    }
    await Deno.rename(partial, dir);
  } catch (error) {
    await Deno.remove(partial, { recursive: true }).catch(() => {});
    throw error;
  }
  // Other pinned sets are of no more use (a cluster running one keeps its open executables).
  const stale = new RegExp(`^${set.prefix}-[0-9a-f]+$`);
  for await (const entry of Deno.readDir(cacheRoot())) {
    if (stale.test(entry.name) && `${cacheRoot()}/${entry.name}` !== dir) {
      await Deno.remove(`${cacheRoot()}/${entry.name}`, { recursive: true }).catch(() => {});
    }
  }
  return paths;
}

if (import.meta.main) {
  const { ensureRealPrerequisites } = await import("./prerequisites.ts");
  await ensureRealPrerequisites({ install: true, log: console.log });
  const programs = await ensurePrograms(console.log);
  for (const path of new Set(Object.values(programs).map((p) => p.replace(/\/[^/]+$/, "")))) {
    console.log(path);
  }
}
