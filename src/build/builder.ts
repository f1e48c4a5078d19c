/**
 * What kubehook asks of an image builder: a pod that builds the Dockerfile of a build context it
 * reads as a gzip-compressed tar on its container's stdin (sent over an attach websocket, never
 * through a shared volume), pushes the result to one destination with the registry secret, writes
 * its progress to its log and exits non-zero when the build fails. Kaniko (kaniko.ts) is the one
 * kind today; another (BuildKit's `buildctl-daemonless`) is another implementation of this
 * interface, and the hooks do not change.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";

/** One build. */
export interface BuildRequest {
  podName: string;
  labels: Record<string, string>;
  /** The builder image. */
  image: string;
  /** The Dockerfile, relative to the context. */
  dockerfile: string;
  /** `host[:port]/path:tag` to push to. */
  destination: string;
  /** The `kubernetes.io/dockerconfigjson` Secret the builder pushes with. */
  registrySecret: string;
  /** The destination registry speaks plain HTTP. */
  insecure: boolean;
  /** The user's own flags (KUBEHOOK_BUILDER_ARGS), after kubehook's. */
  extraArgs: readonly string[];
}

/** A kind of builder. */
export interface Builder {
  /** For the log: `Kaniko`. */
  name: string;
  /** The container that reads the context on stdin and whose exit code is the build's. */
  container: string;
  /** The builder pod for `request`. */
  pod(request: BuildRequest): V1Pod;
  /** The builder's own account of a failed build, from the last lines of its output. */
  failure(lines: readonly string[]): string | undefined;
  /** The Dockerfile instruction the builder was running when it stopped (`RUN make`). */
  lastInstruction(lines: readonly string[]): string | undefined;
}
