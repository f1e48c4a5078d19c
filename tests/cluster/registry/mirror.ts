/**
 * The catalogue's Docker Hub images as a registry serves them: each of the image's layers
 * (rootfs.ts builds their trees) as a tar+gzip blob, an OCI config from the catalogue's image
 * config, and an OCI manifest under every tag the catalogue knows, in `library/<name>`. The
 * embedded cluster's registry is a Docker Hub mirror this way (`--registry-mirror`), and the
 * executor's tests push busybox to their own registry with it.
 *
 * Only images made of layers alone can be mirrored: the host-userland images (debian, the
 * runner...) show the host's own directories, which no layer holds.
 *
 * @example
 * ```ts
 * await pushCatalogueImages(registry, ["docker.io/library/busybox"], "/tmp/work", findHostTools());
 * ```
 * @module
 */
import { type LayerFile, writeLayer } from "../builder/layer_tar.ts";
import { type Blob, pushImage, type Registry, sha256 } from "../builder/registry_push.ts";
import type { HostTools } from "../kubelet/host_tools.ts";
import { CATALOGUE_TAGS, catalogueEntry, imageConfig } from "../kubelet/images.ts";
import { buildLayer, type LayerName } from "../kubelet/rootfs.ts";

/** The catalogue's Docker Hub images the embedded cluster's registry mirrors. */
export const MIRRORED_IMAGES = ["docker.io/library/busybox", "docker.io/library/alpine"];

/** Pushes the catalogue images `repositories` (`docker.io/library/<name>`) with all their tags to
 * `registry`; `work` is a scratch directory, removed afterwards. */
export async function pushCatalogueImages(
  registry: Registry,
  repositories: readonly string[],
  work: string,
  tools: HostTools,
): Promise<void> {
  await Deno.mkdir(work, { recursive: true });
  const blobs = new Map<LayerName, Promise<LayerFile>>();
  const layerBlob = (name: LayerName) => {
    let blob = blobs.get(name);
    if (!blob) {
      blob = (async () => {
        const tree = `${work}/${name}`;
        await buildLayer(name, tree, tools);
        const layer = await writeLayer(tree, await treePaths(tree), [], `${tree}.tar.gz`);
        await Deno.remove(tree, { recursive: true });
        return layer;
      })();
      blobs.set(name, blob);
    }
    return blob;
  };
  try {
    let first: string | undefined;
    for (const repository of repositories) {
      const entry = catalogueEntry(repository);
      if (!entry || entry.etc || entry.layers.includes("host")) {
        throw new Error(`${repository} is not a catalogue image made of layers alone`);
      }
      // The catalogue lists layers topmost first; an image lists them bottom first.
      const layers = await Promise.all([...entry.layers].reverse().map(layerBlob));
      const config = imageConfig(entry);
      const path = repository.replace(/^docker\.io\//, "");
      await pushImage(registry, {
        repository: path,
        tags: CATALOGUE_TAGS[repository],
        layers,
        config: await configBlob({
          architecture: Deno.build.arch === "aarch64" ? "arm64" : "amd64",
          os: "linux",
          config: {
            Env: config.env,
            ...(config.entrypoint.length ? { Entrypoint: config.entrypoint } : {}),
            ...(config.cmd.length ? { Cmd: config.cmd } : {}),
            ...(config.workingDir ? { WorkingDir: config.workingDir } : {}),
            ...(config.user ? { User: config.user } : {}),
          },
          rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
        }),
      }, first);
      first ??= path;
    }
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

async function configBlob(config: unknown): Promise<Blob> {
  const bytes = new TextEncoder().encode(JSON.stringify(config));
  return {
    digest: await sha256(bytes),
    size: bytes.length,
    mediaType: "application/vnd.oci.image.config.v1+json",
    bytes,
  };
}

/** Every path under `root`, relative, sorted, parents before children. */
async function treePaths(root: string, relative = ""): Promise<string[]> {
  const names = (await Array.fromAsync(Deno.readDir(relative ? `${root}/${relative}` : root)))
    .map((entry) => ({ ...entry, path: relative ? `${relative}/${entry.name}` : entry.name }))
    .sort((a, b) => a.name < b.name ? -1 : 1);
  const paths: string[] = [];
  for (const entry of names) {
    paths.push(entry.path);
    if (entry.isDirectory) paths.push(...await treePaths(root, entry.path));
  }
  return paths;
}
