/**
 * The real tier's images: the embedded cluster's catalogue (tests/cluster/kubelet/images.ts, same
 * names, tags, contents and configs) built as OCI images from what the host has, plus the pod
 * sandbox's `registry.k8s.io/pause:3.10`, pushed to the node's two registries: a public one for
 * every name but `registry.local`, and the private one (htpasswd `robot`/`s3cret`). Layers are
 * tar files cached by the hash of the code that builds them; the registries' storage lives in the
 * cache too, so a warm start pushes nothing.
 *
 * @module
 */
import { cacheRoot } from "./build.ts";
import { type Blob, pushImage, type Registry, sha256 } from "../cluster/builder/registry_push.ts";
import { buildUserland } from "./userland.ts";
import { CATALOGUE_TAGS, catalogueEntry, imageConfig } from "../cluster/kubelet/images.ts";
import { findHostTools } from "../cluster/kubelet/host_tools.ts";
import { buildLayer, type LayerName } from "../cluster/kubelet/rootfs.ts";

/** The sandbox image containerd runs every pod's PID 1 from. */
export const PAUSE_IMAGE = "registry.k8s.io/pause:3.10";
/** The private registry's host name; the node resolves it to its own loopback. */
export const PRIVATE_HOST = "registry.local";
/** The registry hosts containerd is pointed at the public registry for. */
export const PUBLIC_HOSTS = ["docker.io", "ghcr.io", "distroless.local", "registry.k8s.io"];

type RealLayer = LayerName | "userland" | "pause";

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
async function layerBlob(dir: string, name: RealLayer, pause: string): Promise<Blob> {
  const file = `${dir}/${name}.tar`;
  const meta = `${file}.json`;
  const known = await Deno.readTextFile(meta).then((t) => JSON.parse(t) as Blob, () => undefined);
  if (known) return known;
  const tree = `${dir}/${name}.tree`;
  await Deno.remove(tree, { recursive: true }).catch(() => {});
  await Deno.mkdir(tree, { recursive: true });
  if (name === "userland") await buildUserland(tree, { node: "/usr/bin/node" });
  else if (name === "pause") await Deno.copyFile(pause, `${tree}/pause`);
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

/** The cache of the image set the current code builds. */
export async function catalogueCache(pause: string): Promise<CatalogueCache> {
  const key = await sourcesKey(pause);
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
  pause: string,
  log: (line: string) => void,
): Promise<void> {
  const marker = `${cache.registry}/pushed`;
  if (await Deno.stat(marker).then(() => true, () => false)) return;
  const dir = cache.layers;
  await Deno.mkdir(dir, { recursive: true });
  const images = [
    ...Object.keys(CATALOGUE_TAGS).map((repository) => {
      const entry = catalogueEntry(repository)!;
      return {
        repository,
        tags: CATALOGUE_TAGS[repository],
        layers: realLayers(entry.layers, entry.etc),
        config: imageConfig(entry),
      };
    }),
    {
      repository: PAUSE_IMAGE.split(":")[0],
      tags: [PAUSE_IMAGE.split(":")[1]],
      layers: ["pause" as const],
      config: { ...imageConfig({ layers: [], config: {}, sizeBytes: 0 }), entrypoint: ["/pause"] },
    },
  ];
  log(`building and pushing ${images.length} images to the node's registries …`);
  const lastIn: Record<string, string> = {};
  for (const image of images) {
    const layers = [];
    for (const name of image.layers) layers.push(await layerBlob(dir, name, pause));
    const config = new TextEncoder().encode(JSON.stringify({
      architecture: Deno.build.arch === "aarch64" ? "arm64" : "amd64",
      os: "linux",
      config: {
        Entrypoint: image.config.entrypoint.length ? image.config.entrypoint : null,
        Cmd: image.config.cmd.length ? image.config.cmd : null,
        Env: image.config.env,
        WorkingDir: image.config.workingDir,
        User: image.config.user,
      },
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
