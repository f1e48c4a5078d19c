/**
 * The real tier's images: the embedded cluster's catalogue (tests/cluster/kubelet/images.ts, same
 * names, tags, contents and configs) built as OCI images from what the host has, plus the pod
 * sandbox's `registry.k8s.io/pause:3.10`, pushed to the node's two catalogue registries: a public
 * one for every name but `registry.local`, and the private one (htpasswd `robot`/`s3cret`). Layers
 * are tar files cached by the hash of the code that builds them and of the programs they hold; the
 * registries' storage lives in the cache too, so a warm start pushes nothing.
 *
 * One name differs on purpose: `ghcr.io/osscontainertools/kaniko` (every tag of the catalogue's)
 * is not the embedded cluster's stand-in on the host userland but the real executor, built from
 * the fork's sources (build.ts), laid out as the fork's deploy/Dockerfile lays out its
 * `kaniko-executor` stage ({@link KANIKO_IMAGE_CONFIG}).
 *
 * @module
 */
import { cacheRoot, KANIKO_MODULE, type Programs } from "./build.ts";
import { type Blob, pushImage, type Registry, sha256 } from "../cluster/builder/registry_push.ts";
import { buildUserland } from "./userland.ts";
import {
  CATALOGUE_TAGS,
  catalogueEntry,
  type ImageConfig,
  imageConfig,
} from "../cluster/kubelet/images.ts";
import { findHostTools } from "../cluster/kubelet/host_tools.ts";
import { buildLayer, type LayerName } from "../cluster/kubelet/rootfs.ts";

/** The sandbox image containerd runs every pod's PID 1 from. */
export const PAUSE_IMAGE = "registry.k8s.io/pause:3.10";
/** The private registry's host name; the node resolves it to its own loopback. */
export const PRIVATE_HOST = "registry.local";
/** The registry hosts containerd is pointed at the public registry for. */
export const PUBLIC_HOSTS = ["docker.io", "ghcr.io", "distroless.local", "registry.k8s.io"];

/** The builder image: on this tier, the real Kaniko executor. */
export const KANIKO_IMAGE = "ghcr.io/osscontainertools/kaniko";

/** The config of the fork's image (deploy/Dockerfile, stage `kaniko-executor`), without what
 * only its credential helpers use (DOCKER_CREDENTIAL_GCR_CONFIG). */
export const KANIKO_IMAGE_CONFIG = {
  Entrypoint: ["/kaniko/executor"],
  Cmd: null,
  Env: [
    "PATH=/usr/local/bin:/kaniko",
    "HOME=/root",
    "USER=root",
    "SSL_CERT_DIR=/kaniko/ssl/certs",
    "DOCKER_CONFIG=/kaniko/.docker/",
  ],
  WorkingDir: "/workspace",
  User: "",
};

/** The host's CA bundle (prerequisites.ts), which the fork's image takes from Debian's
 * ca-certificates too. */
export const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

type RealLayer = LayerName | "userland" | "pause" | "kaniko-executor";

/** What the code that builds layers is made of: its hash keys the layer cache. */
const SOURCES = [
  "./images.ts",
  "./userland.ts",
  "../cluster/kubelet/rootfs.ts",
  "../cluster/kubelet/images.ts",
  "../cluster/kubelet/distroless_app.c",
];

async function sourcesKey(extra: string): Promise<string> {
  const texts = await Promise.all(
    SOURCES.map((s) => Deno.readTextFile(new URL(s, import.meta.url))),
  );
  return (await sha256(new TextEncoder().encode([...texts, extra].join("\0")))).slice(7, 23);
}

/** Builds (once) the layer tar of `name` and describes it as a blob. */
async function layerBlob(dir: string, name: RealLayer, programs: Programs): Promise<Blob> {
  const file = `${dir}/${name}.tar`;
  const meta = `${file}.json`;
  const known = await Deno.readTextFile(meta).then((t) => JSON.parse(t) as Blob, () => undefined);
  if (known) return known;
  const tree = `${dir}/${name}.tree`;
  await Deno.remove(tree, { recursive: true }).catch(() => {});
  await Deno.mkdir(tree, { recursive: true });
  if (name === "userland") await buildUserland(tree, { node: "/usr/bin/node" });
  else if (name === "pause") await Deno.copyFile(programs.pause, `${tree}/pause`);
  else if (name === "kaniko-executor") await buildKanikoLayer(tree, programs["kaniko-executor"]);
  else await buildLayer(name, tree, findHostTools());
  const tar = await new Deno.Command("tar", {
    args: [
      "--numeric-owner",
      "--sort=name",
      "--mtime=@0",
      "-C",
      tree,
      "-cf",
      `${file}.partial`,
      ".",
    ],
    stderr: "piped",
  }).output();
  if (!tar.success) {
    throw new Error(`Cannot pack layer ${name}: ${new TextDecoder().decode(tar.stderr)}`);
  }
  await Deno.remove(tree, { recursive: true });
  const bytes = await Deno.readFile(`${file}.partial`);
  const blob: Blob = {
    digest: await sha256(bytes),
    size: bytes.length,
    mediaType: "application/vnd.oci.image.layer.v1.tar",
    path: file,
  };
  await Deno.rename(`${file}.partial`, file);
  await Deno.writeTextFile(meta, JSON.stringify(blob));
  return blob;
}

/** The fork's image in one layer, as its deploy/Dockerfile makes it: `/kaniko` writable by all
 * (for non-root builds), the executor, the CA bundle at `/kaniko/ssl/certs/`, an empty
 * `/kaniko/.docker`, the fork's `/etc/nsswitch.conf` and the WORKDIR `/workspace`. The fork's
 * amd64 image also has `/kaniko/tini` (only used with FF_KANIKO_RUN_VIA_TINI) and three registry
 * credential helpers (GCR, ECR, ACR), none of which these tests use. */
async function buildKanikoLayer(tree: string, executor: string): Promise<void> {
  for (const dir of ["kaniko/ssl/certs", "kaniko/.docker", "etc", "workspace"]) {
    await Deno.mkdir(`${tree}/${dir}`, { recursive: true });
  }
  await Deno.chmod(`${tree}/kaniko`, 0o777);
  await Deno.copyFile(executor, `${tree}/kaniko/executor`);
  await Deno.chmod(`${tree}/kaniko/executor`, 0o755);
  await Deno.copyFile(CA_BUNDLE, `${tree}/kaniko/ssl/certs/ca-certificates.crt`);
  await Deno.chmod(`${tree}/kaniko/ssl/certs/ca-certificates.crt`, 0o644);
  await Deno.copyFile(`${await kanikoSources()}/files/nsswitch.conf`, `${tree}/etc/nsswitch.conf`);
  await Deno.chmod(`${tree}/etc/nsswitch.conf`, 0o644);
}

/** The directory of the pinned Kaniko module's sources (downloaded when the Go module cache lost
 * them since the build). */
async function kanikoSources(): Promise<string> {
  const result = await new Deno.Command("go", {
    args: ["mod", "download", "-json", KANIKO_MODULE],
    cwd: new URL("./kaniko/", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(result.stdout);
  if (!result.success) {
    throw new Error(
      `Cannot find Kaniko's sources: ${text}${new TextDecoder().decode(result.stderr)}`,
    );
  }
  return (JSON.parse(text) as { Dir: string }).Dir;
}

/** The real tier's layers of a catalogue entry, bottom first: the embedded "host" layer (the
 * host's directories, seen through overlayfs) becomes a materialized userland. */
function realLayers(layers: readonly LayerName[], etc?: LayerName): RealLayer[] {
  const bottomFirst = [...layers].reverse().map((l): RealLayer => l === "host" ? "userland" : l);
  return etc ? [...bottomFirst, etc] : bottomFirst;
}

/** Where a repository lives: which registry, under which path. */
function placement(repository: string): { registry: "public" | "private"; path: string } {
  const [host, ...rest] = repository.split("/");
  return { registry: host === PRIVATE_HOST ? "private" : "public", path: rest.join("/") };
}

/** Where one image set lives in the cache, keyed by the code that builds it: its layer tars,
 * and the registries' storage (served while a cluster runs, so a warm start pushes nothing). */
export interface CatalogueCache {
  key: string;
  layers: string;
  registry: string;
}

/** The cache of the image set the current code builds from `programs` (their paths name their
 * build keys). */
export async function catalogueCache(programs: Programs): Promise<CatalogueCache> {
  const key = await sourcesKey([programs.pause, programs["kaniko-executor"]].join("\0"));
  return {
    key,
    layers: `${cacheRoot()}/layers-${key}`,
    registry: `${cacheRoot()}/registry-${key}`,
  };
}

/** Builds whatever is missing and pushes every image to the two registries (nothing when their
 * storage already holds this image set), then removes older image sets from the cache but the
 * one before (a cluster started from it may still be serving it). `log` gets progress lines. */
export async function pushCatalogue(
  registries: { public: Registry; private: Registry },
  cache: CatalogueCache,
  programs: Programs,
  log: (line: string) => void,
): Promise<void> {
  const marker = `${cache.registry}/pushed`;
  if (await Deno.stat(marker).then(() => true, () => false)) return;
  const dir = cache.layers;
  await Deno.mkdir(dir, { recursive: true });
  const runtimeConfig = (config: ImageConfig) => ({
    Entrypoint: config.entrypoint.length ? config.entrypoint : null,
    Cmd: config.cmd.length ? config.cmd : null,
    Env: config.env,
    WorkingDir: config.workingDir,
    User: config.user,
  });
  const images: {
    repository: string;
    tags: readonly string[];
    layers: RealLayer[];
    config: unknown;
  }[] = [
    ...Object.keys(CATALOGUE_TAGS).map((repository) => {
      if (repository === KANIKO_IMAGE) {
        return {
          repository,
          tags: CATALOGUE_TAGS[repository],
          layers: ["kaniko-executor" as const],
          config: KANIKO_IMAGE_CONFIG,
        };
      }
      const entry = catalogueEntry(repository)!;
      return {
        repository,
        tags: CATALOGUE_TAGS[repository],
        layers: realLayers(entry.layers, entry.etc),
        config: runtimeConfig(imageConfig(entry)),
      };
    }),
    {
      repository: PAUSE_IMAGE.split(":")[0],
      tags: [PAUSE_IMAGE.split(":")[1]],
      layers: ["pause" as const],
      config: runtimeConfig({
        ...imageConfig({ layers: [], config: {}, sizeBytes: 0 }),
        entrypoint: ["/pause"],
      }),
    },
  ];
  log(`building and pushing ${images.length} images to the node's registries …`);
  const lastIn: Record<string, string> = {};
  for (const image of images) {
    const layers = [];
    for (const name of image.layers) layers.push(await layerBlob(dir, name, programs));
    const config = new TextEncoder().encode(JSON.stringify({
      architecture: Deno.build.arch === "aarch64" ? "arm64" : "amd64",
      os: "linux",
      config: image.config,
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) },
    }));
    const where = placement(image.repository);
    await pushImage(
      registries[where.registry],
      {
        repository: where.path,
        tags: image.tags,
        layers,
        config: {
          digest: await sha256(config),
          size: config.length,
          mediaType: "application/vnd.oci.image.config.v1+json",
          bytes: config,
        },
      },
      lastIn[where.registry],
    );
    lastIn[where.registry] = where.path;
  }
  await Deno.writeTextFile(marker, new Date().toISOString());
  await pruneImageSets(cache.key);
}

/** Removes the cache's image sets (layers-KEY, registry-KEY) but `current` and the newest other
 * one. */
async function pruneImageSets(current: string): Promise<void> {
  const root = cacheRoot();
  const sets = new Map<string, number>();
  for await (const entry of Deno.readDir(root)) {
    const key = entry.name.match(/^(?:layers|registry)-([0-9a-f]+)$/)?.[1];
    if (!key || key === current) continue;
    const mtime = (await Deno.stat(`${root}/${entry.name}`)).mtime?.getTime() ?? 0;
    sets.set(key, Math.max(sets.get(key) ?? 0, mtime));
  }
  const older = [...sets].sort((a, b) => b[1] - a[1]).slice(1);
  for (const [key] of older) {
    for (const kind of ["layers", "registry"]) {
      await Deno.remove(`${root}/${kind}-${key}`, { recursive: true }).catch(() => {});
    }
  }
}
