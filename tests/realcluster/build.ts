/**
 * The real tier's programs, built from the module pinned in `tests/realcluster/go.mod` into a
 * cache outside the work tree, once per pinned set: etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler, kubelet and the pod sandbox's `pause`. The cache key is a hash of go.mod,
 * go.sum, the pause source, the build flags and the Go version, so a changed pin builds anew and
 * an unchanged one never does. A build goes to a temporary directory that is renamed into place
 * only when complete, so an interrupted build is never mistaken for a finished one.
 *
 * ```sh
 * deno run -A tests/realcluster/build.ts   # installs and builds what is missing, prints the cache
 * ```
 * @module
 */

const HERE = new URL(".", import.meta.url).pathname;

/** The linker flags: stripped, and the version the components report (the one go.mod pins,
 * which `go build` of a module dependency does not stamp by itself). */
async function linkerFlags(): Promise<string> {
  const version = await pinnedVersion("k8s.io/kubernetes");
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
}

/** Program name → Go package. */
const PROGRAMS: Record<string, string> = {
  "etcd": "go.etcd.io/etcd/server/v3",
  "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
  "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
  "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
  "kubelet": "k8s.io/kubernetes/cmd/kubelet",
  "pause": "./pause",
};

/** Where the real tier keeps what it builds: `$KUBEHOOK_REALCLUSTER_CACHE`, else
 * `${XDG_CACHE_HOME:-~/.cache}/kubehook/realcluster`. */
export function cacheRoot(): string {
  const explicit = Deno.env.get("KUBEHOOK_REALCLUSTER_CACHE");
  if (explicit) return explicit;
  const base = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache`;
  return `${base}/kubehook/realcluster`;
}

/** Absolute paths of the built programs. */
export type Programs = Record<keyof typeof PROGRAMS, string>;

async function run(command: string, args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(command, {
    args,
    cwd: HERE,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output().catch((error) => {
    throw new Error(
      `The real-Kubernetes tier needs ${command} (${error.message}). Install Go 1.24 or newer.`,
    );
  });
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(
      `\`${command} ${args.join(" ")}\` failed in ${HERE}:\n${
        decoder.decode(output.stderr).trim().split("\n").slice(-20).join("\n")
      }`,
    );
  }
  return decoder.decode(output.stdout);
}

/** The version go.mod pins for the module of `pkg` (k8s.io/kubernetes v1.34.4, etcd v3.6.4). */
async function pinnedVersion(pkg: string): Promise<string> {
  const goMod = await Deno.readTextFile(`${HERE}go.mod`);
  const module = pkg.startsWith("k8s.io/kubernetes") ? "k8s.io/kubernetes" : pkg;
  const escaped = module.replaceAll(".", "\\.");
  return goMod.match(new RegExp(`^\\s*${escaped} (v\\S+)`, "m"))?.[1] ?? "";
}

/** The cache key of the pinned set. */
async function buildKey(): Promise<string> {
  const parts = [
    await Deno.readTextFile(`${HERE}go.mod`),
    await Deno.readTextFile(`${HERE}go.sum`),
    await Deno.readTextFile(`${HERE}pause/main.go`),
    await linkerFlags(),
    await run("go", ["version"]),
  ];
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\0")));
  return Array.from(new Uint8Array(digest).slice(0, 8), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** The programs, built first when the cache lacks them; `log` gets progress lines. */
export async function ensurePrograms(log: (line: string) => void = () => {}): Promise<Programs> {
  const dir = `${cacheRoot()}/bin-${await buildKey()}`;
  const paths = Object.fromEntries(
    Object.keys(PROGRAMS).map((name) => [name, `${dir}/${name}`]),
  ) as Programs;
  if (await Deno.stat(dir).then(() => true, () => false)) return paths;
  const partial = `${dir}.partial-${crypto.randomUUID().slice(0, 8)}`;
  const ldflags = await linkerFlags();
  await Deno.mkdir(partial, { recursive: true });
  try {
    for (const [name, pkg] of Object.entries(PROGRAMS)) {
      const version = name === "pause" ? "" : await pinnedVersion(pkg);
      log(`building ${name}${version ? ` ${version}` : ""} …`);
      const started = performance.now();
      // One package per go build: a shared build cache makes the later ones mostly linking.
      await run(
        "go",
        ["build", "-trimpath", "-ldflags", ldflags, "-o", `${partial}/${name}`, pkg],
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
  for await (const entry of Deno.readDir(cacheRoot())) {
    if (/^bin-[0-9a-f]+$/.test(entry.name) && `${cacheRoot()}/${entry.name}` !== dir) {
      await Deno.remove(`${cacheRoot()}/${entry.name}`, { recursive: true }).catch(() => {});
    }
  }
  return paths;
}

if (import.meta.main) {
  const { ensureRealPrerequisites } = await import("./prerequisites.ts");
  await ensureRealPrerequisites({ install: true, log: console.log });
  const programs = await ensurePrograms(console.log);
  console.log(Object.values(programs)[0].replace(/\/[^/]+$/, ""));
}
