/**
 * The local cluster's image catalogue: which references pull, what each image contains (layers
 * stacked by overlayfs into a container's root) and its config (entrypoint, cmd, env, workingDir,
 * user). Pulls are local; layers are built lazily, once per kubelet, under the state directory.
 *
 * | reference                                  | contents                                        |
 * | ------------------------------------------ | ----------------------------------------------- |
 * | `busybox`, `docker.io/library/busybox`     | busybox-static with every applet linked          |
 * | `alpine`                                   | busybox plus /etc/alpine-release, ID=alpine      |
 * | `nginx`                                    | busybox whose httpd serves "Welcome to nginx!" on :80 |
 * | `debian`, `ubuntu`, `node`                 | the host's /usr and /etc, writable per container |
 * | `ghcr.io/actions/actions-runner`           | host userland plus /home/runner/externals/node20 |
 * | `registry.local/private/{app,tools,cache}` | busybox, only with robot/s3cret pull credentials |
 * | `distroless.local/app`                     | only `/app` (static busybox), ENTRYPOINT ["/app"] |
 * | `ghcr.io/osscontainertools/kaniko`         | host userland plus /kaniko/executor (tests/cluster/builder/) |
 *
 * Only the tags of {@link CATALOGUE_TAGS} exist (and a digest only when it is the image's own),
 * as on a real registry: any other tag, digest or repository is not found.
 *
 * Images named by the cluster's registry (`registry.local:5000/...`, `localhost:5000/...`) are
 * not the catalogue's: they are pulled from that registry for real (registry_pull.ts).
 *
 * @module
 */
import type { ImageReference } from "./image_reference.ts";
import type { Credential } from "./pull_secrets.ts";
import type { HostTools } from "./host_tools.ts";
import { buildLayer, hostDirectories, IMAGE_PATH, type LayerName, RUNNER_UID } from "./rootfs.ts";
import { notFound, unauthorized } from "./pull_errors.ts";
import { type NodeRegistry, RegistryImages } from "./registry_pull.ts";

/** An image's runtime config, as in an OCI image config. */
export interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
  /** `NAME=value` entries. */
  env: string[];
  /** Empty means `/`. */
  workingDir: string;
  /** `uid[:gid]` or a user name from the image's /etc/passwd; empty means root. */
  user: string;
}

/** One overlay of a container's root: `lowers` (topmost first) stacked at `target`. */
export interface Layer {
  target: string;
  lowers: string[];
}

/** A pulled image, ready to be stacked into a container root. */
export interface PulledImage {
  reference: ImageReference;
  config: ImageConfig;
  /** Overlays, parents before children ("/" first). */
  layers: Layer[];
  /** `repository@sha256:...`, as kubelet reports it. */
  imageID: string;
  sizeBytes: number;
}

/** A catalogue image as both tiers build it. */
export interface Entry {
  /** Cached layers stacked at "/", topmost first; "host" adds the host's directories. */
  layers: LayerName[];
  /** The /etc layer of host-userland images. */
  etc?: LayerName;
  config: Partial<ImageConfig>;
  private?: boolean;
  sizeBytes: number;
}

const BUSYBOX: Entry = { layers: ["busybox"], config: { cmd: ["sh"] }, sizeBytes: 2_155_616 };
const HOST = (etc: LayerName, config: Partial<ImageConfig>): Entry => ({
  layers: ["host"],
  etc,
  config,
  sizeBytes: 48_480_000,
});

const CATALOGUE: Record<string, Entry> = {
  "docker.io/library/busybox": BUSYBOX,
  "docker.io/library/alpine": {
    ...BUSYBOX,
    layers: ["alpine", "busybox"],
    config: { cmd: ["/bin/sh"] },
  },
  "docker.io/library/nginx": {
    layers: ["nginx", "busybox"],
    config: {
      cmd: ["httpd", "-f", "-v", "-p", "80", "-h", "/usr/share/nginx/html"],
      env: [IMAGE_PATH, "NGINX_VERSION=1.27.3"],
    },
    sizeBytes: 2_163_808,
  },
  "docker.io/library/debian": HOST("etc-debian", { cmd: ["bash"] }),
  "docker.io/library/ubuntu": HOST("etc-ubuntu", { cmd: ["/bin/bash"] }),
  "docker.io/library/node": HOST("etc-debian", { cmd: ["node"] }),
  "distroless.local/app": {
    layers: ["distroless"],
    config: { entrypoint: ["/app"] },
    sizeBytes: 2_155_616,
  },
  // Kaniko's maintained fork: the builder's default image. Its executor builds for real
  // (tests/cluster/builder/executor.ts); the host userland gives it deno, tar and util-linux.
  "ghcr.io/osscontainertools/kaniko": {
    ...HOST("etc-debian", {
      entrypoint: ["/kaniko/executor"],
      workingDir: "/workspace",
      env: [`${IMAGE_PATH}:/kaniko`, "HOME=/root", "USER=root", "DOCKER_CONFIG=/kaniko/.docker/"],
    }),
    layers: ["kaniko", "host"],
  },
  "ghcr.io/actions/actions-runner": {
    ...HOST("etc-runner", {
      cmd: ["bash"],
      workingDir: "/home/runner",
      user: `${RUNNER_UID}`,
      env: [IMAGE_PATH, "RUNNER_MANUALLY_TRAP_SIG=1", "ACTIONS_RUNNER_PRINT_LOG_TO_STDOUT=1"],
    }),
    layers: ["runner-home", "host"],
  },
};

/** The tags each repository has; a reference to any other tag is not found. The real-Kubernetes
 * tier pushes exactly these. */
export const CATALOGUE_TAGS: Record<string, readonly string[]> = {
  "docker.io/library/busybox": ["latest", "1", "1.36", "1.36.1", "stable"],
  "docker.io/library/alpine": ["latest", "3", "3.20", "3.20.3"],
  "docker.io/library/nginx": ["latest", "1", "1.27", "1.27.3", "stable"],
  "docker.io/library/debian": ["latest", "12", "bookworm", "12-slim", "bookworm-slim", "stable"],
  "docker.io/library/ubuntu": ["latest", "24.04", "noble", "22.04", "jammy"],
  "docker.io/library/node": ["latest", "20", "22", "lts", "20-bookworm", "20-bookworm-slim"],
  "ghcr.io/osscontainertools/kaniko": ["latest", "v1.26.5"],
  "ghcr.io/actions/actions-runner": ["latest", "2.321.0", "2.329.0", "2.330.0"],
  "distroless.local/app": ["1"],
  "registry.local/private/app": ["latest", "1.0"],
  "registry.local/private/tools": ["latest", "1.0"],
  "registry.local/private/cache": ["latest", "2.1"],
};

/** The catalogue's image for `repository` (private ones are busybox), or undefined. */
export function catalogueEntry(repository: string): Entry | undefined {
  if (!CATALOGUE_TAGS[repository]) return undefined;
  return repository.startsWith(PRIVATE_PREFIX)
    ? { ...BUSYBOX, private: true }
    : CATALOGUE[repository];
}

/** The image config the catalogue gives `entry` (the runtime's defaults filled in). */
export function imageConfig(entry: Entry): ImageConfig {
  return { entrypoint: [], cmd: [], env: [IMAGE_PATH], workingDir: "", user: "", ...entry.config };
}

const PRIVATE_REGISTRY = "registry.local";
const PRIVATE_PREFIX = `${PRIVATE_REGISTRY}/private/`;
/** The only credential the private registry accepts. */
const ROBOT: Credential = { username: "robot", password: "s3cret" };

/** Pulls from the catalogue and caches the layers under `dir`; images of the cluster's
 * `registry`, when there is one, come from it. */
export class ImageStore {
  #layers = new Map<LayerName, Promise<string>>();
  #pulled = new Set<string>();
  #registry: RegistryImages | undefined;

  constructor(readonly dir: string, readonly tools: HostTools, registry?: NodeRegistry) {
    this.#registry = registry && new RegistryImages(`${dir}/registry`, registry);
  }

  /** Whether `reference` was pulled before (kubelet's "already present on machine"). */
  isPresent(reference: ImageReference): boolean {
    if (this.#registry?.serves(reference)) return this.#registry.isPresent(reference);
    return this.#pulled.has(reference.normalized);
  }

  /** Pulls `reference` offering `credentials` ("present": it is on the node and is used as it
   * is, without asking the registry); throws an ImagePullError (pull_errors.ts) as containerd
   * words it. */
  async pull(
    reference: ImageReference,
    credentials: Credential[] | "present",
  ): Promise<PulledImage> {
    if (this.#registry?.serves(reference)) return await this.#registry.pull(reference, credentials);
    const name = reference.normalized;
    const known = CATALOGUE_TAGS[reference.repository];
    const entry = catalogueEntry(reference.repository);
    const digest = entry && await digestOf(entry.layers.join("+"));
    const exists = entry &&
      (reference.digest ? reference.digest === digest : known!.includes(reference.tag));
    if (!exists) throw notFound(name);
    if (
      entry.private && credentials !== "present" &&
      !credentials.some((c) => c.username === ROBOT.username && c.password === ROBOT.password)
    ) {
      throw unauthorized(
        name,
        reference.domain,
        reference.digest ?? reference.tag,
        credentials.length > 0,
      );
    }
    const image: PulledImage = {
      reference,
      config: imageConfig(entry),
      layers: await this.#stack(entry),
      imageID: `${reference.repository}@${digest}`,
      sizeBytes: entry.sizeBytes,
    };
    this.#pulled.add(name);
    return image;
  }

  async #stack(entry: Entry): Promise<Layer[]> {
    const roots = await Promise.all(entry.layers.map((name) => this.#layer(name)));
    if (!entry.etc) return [{ target: "/", lowers: roots }];
    const etc = await this.#layer(entry.etc);
    return [
      { target: "/", lowers: roots },
      ...hostDirectories().map((name) => ({ target: `/${name}`, lowers: [`/${name}`] })),
      { target: "/etc", lowers: [`${etc}/etc`, "/etc"] },
    ];
  }

  /** Builds a layer once (into a temporary name, renamed when complete) and returns its path. */
  #layer(name: LayerName): Promise<string> {
    let built = this.#layers.get(name);
    if (!built) {
      built = (async () => {
        const final = `${this.dir}/${name}`;
        const partial = `${final}.partial`;
        await Deno.remove(partial, { recursive: true }).catch(() => {});
        await buildLayer(name, partial, this.tools);
        await Deno.rename(partial, final);
        return final;
      })();
      built.catch(() => this.#layers.delete(name));
      this.#layers.set(name, built);
    }
    return built;
  }
}

async function digestOf(text: string): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return "sha256:" +
    Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, "0")).join("");
}
