/**
 * Images the kubelet pulls for real from the cluster's registry (registry/mod.ts), as containerd
 * pulls them: the reference resolved to a manifest (OCI or Docker schema 2, by tag or digest; an
 * index to this platform's image), the config blob, and each layer (tar+gzip or tar) fetched once
 * per node and unpacked into a directory of its own under the image store, by the blob's digest,
 * its whiteouts turned into overlayfs' marks, so that a container's root is the layers stacked
 * by overlayfs like any catalogue image. The image config (Entrypoint, Cmd, Env, WorkingDir,
 * User) comes from the config blob; the image ID is `repository@<manifest digest>`.
 *
 * Credentials are those of the pod's pull secrets for the reference's host (`registry.local:5000`
 * or `localhost:5000`: the node reaches the registry by both names). A refusal, an unknown tag
 * and every other failure are worded as containerd words them.
 *
 * @module
 */
import { downloadBlob, type ResolvedImage, resolveImage } from "../builder/registry_client.ts";
import { type Registry, RegistryError } from "../builder/registry_push.ts";
import { unpackLayer } from "../builder/layer_tar.ts";
import type { ImageReference } from "./image_reference.ts";
import type { ImageConfig, PulledImage } from "./images.ts";
import { notFound, pullFailure, unauthorized } from "./pull_errors.ts";
import type { Credential } from "./pull_secrets.ts";
import { IMAGE_PATH } from "./rootfs.ts";

/** The cluster's registry as the node sees it. */
export interface NodeRegistry {
  /** The `host:port` names the node pulls its images by. */
  readonly hosts: readonly string[];
  /** The port pods reach it on, at the pod network's gateway. */
  readonly port: number;
  /** The Unix socket on the host that reaches it (starting it on first use). */
  readonly socket: string;
  /** The registry by the name `host`, offering `credential`; started first if need be. */
  connect(host: string, credential?: Credential): Promise<Registry>;
}

/** The node's images from the cluster's registry, and their layers on disk. */
export class RegistryImages {
  #layers = new Map<string, Promise<string>>();
  #pulled = new Map<string, PulledImage>();

  constructor(readonly dir: string, readonly registry: NodeRegistry) {}

  /** Whether `reference` names the cluster's registry. */
  serves(reference: ImageReference): boolean {
    return this.registry.hosts.includes(reference.domain);
  }

  /** Whether `reference` was pulled before. */
  isPresent(reference: ImageReference): boolean {
    return this.#pulled.has(reference.normalized);
  }

  /** Pulls `reference` with the first of `credentials` the registry accepts ("present": the
   * image pulled before, without asking the registry). */
  async pull(
    reference: ImageReference,
    credentials: Credential[] | "present",
  ): Promise<PulledImage> {
    const name = reference.normalized;
    const present = this.#pulled.get(name);
    if (credentials === "present" && present) return present;
    const object = reference.digest ?? reference.tag;
    let resolved: { image: ResolvedImage; registry: Registry } | undefined;
    const offered = credentials === "present" ? [] : credentials;
    for (const credential of offered.length > 0 ? offered : [undefined]) {
      let registry: Registry;
      try {
        registry = await this.registry.connect(reference.domain, credential);
      } catch (error) {
        throw pullFailure(name, `failed to resolve reference "${name}": ${message(error)}`);
      }
      try {
        resolved = { image: await resolveImage(registry, reference.path, object, name), registry };
        break;
      } catch (error) {
        if (error instanceof RegistryError && error.status === 401) continue;
        if (error instanceof RegistryError && error.status === 404) throw notFound(name);
        throw pullFailure(
          name,
          `failed to resolve reference "${name}": ` +
            (error instanceof RegistryError
              ? `pulling from host ${reference.domain} failed with status code [manifests ` +
                `${object}]: ${error.statusLine}`
              : message(error)),
        );
      }
    }
    if (!resolved) throw unauthorized(name, reference.domain, object, offered.length > 0);
    const { image, registry } = resolved;
    let lowers: string[];
    try {
      lowers = await Promise.all(
        image.layers.map((layer) => this.#layer(registry, reference.path, layer)),
      );
    } catch (error) {
      throw pullFailure(name, message(error));
    }
    if (lowers.length === 0) {
      // An image of no layer (`FROM scratch` and metadata only): overlayfs needs a lower.
      lowers.push(`${this.dir}/empty`);
      await Deno.mkdir(lowers[0], { recursive: true });
    }
    const pulled: PulledImage = {
      reference,
      config: imageConfigOf(image.config),
      // Topmost first, as overlayfs stacks lower directories.
      layers: [{ target: "/", lowers: lowers.reverse() }],
      imageID: `${reference.repository}@${image.digest}`,
      sizeBytes: image.layers.reduce((total, layer) => total + layer.size, 0),
    };
    this.#pulled.set(name, pulled);
    return pulled;
  }

  /** The unpacked directory of `layer`: fetched and unpacked once (under a temporary name,
   * renamed when complete), whatever image or repository it is pulled for. */
  #layer(
    registry: Registry,
    repository: string,
    layer: { digest: string; size: number; mediaType: string },
  ): Promise<string> {
    let unpacked = this.#layers.get(layer.digest);
    if (!unpacked) {
      unpacked = (async () => {
        const final = `${this.dir}/${layer.digest.replace(":", "-")}`;
        const partial = `${final}.partial`;
        const blob = `${final}.blob`;
        await Deno.remove(partial, { recursive: true }).catch(() => {});
        await Deno.mkdir(partial, { recursive: true });
        try {
          await downloadBlob(registry, repository, layer, blob);
          await unpackLayer(blob, partial, "tar", "overlay");
        } finally {
          await Deno.remove(blob).catch(() => {});
        }
        await Deno.rename(partial, final);
        return final;
      })();
      unpacked.catch(() => this.#layers.delete(layer.digest));
      this.#layers.set(layer.digest, unpacked);
    }
    return unpacked;
  }
}

/** The runtime's view of an image config blob (`config` of the OCI image config); PATH defaults
 * as containerd's default spec has it. */
function imageConfigOf(image: Record<string, unknown>): ImageConfig {
  const config = (image.config ?? {}) as {
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Env?: string[] | null;
    WorkingDir?: string;
    User?: string;
  };
  const env = config.Env ?? [];
  return {
    entrypoint: config.Entrypoint ?? [],
    cmd: config.Cmd ?? [],
    env: env.some((e) => e.startsWith("PATH=")) ? env : [IMAGE_PATH, ...env],
    workingDir: config.WorkingDir ?? "",
    user: config.User ?? "",
  };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
