/**
 * The Kaniko builder: the executor image (the maintained fork's, `KUBEHOOK_BUILDER_IMAGE`) run as
 * a pod that builds from `--context=tar://stdin` and pushes to `--destination`. Kaniko runs as
 * root inside its own container and unpacks the base image over its own filesystem, but needs no
 * privileges, capabilities or host mounts: the Pod Security baseline standard admits it, the
 * restricted one does not (it forbids root). The registry secret is mounted where Kaniko reads
 * Docker's config (`/kaniko/.docker/config.json`), so no copy of it is made.
 *
 * @example
 * ```ts
 * const pod = KANIKO.pod({ podName: "arc-x-build-1", labels: {}, image: DEFAULT_BUILDER_IMAGE,
 *   dockerfile: "Dockerfile", destination: "ghcr.io/org/hello:ctx-ab", registrySecret: "regcred",
 *   insecure: false, extraArgs: ["--cache=true"] });
 * ```
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { Builder, BuildRequest } from "./builder.ts";
import { splitHost } from "./build_target.ts";

const CONTAINER = "builder";
const DOCKER_CONFIG = "/kaniko/.docker";

export const KANIKO: Builder = {
  name: "Kaniko",
  container: CONTAINER,
  pod: (request: BuildRequest): V1Pod => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: request.podName, labels: { ...request.labels } },
    spec: {
      restartPolicy: "Never",
      automountServiceAccountToken: false,
      containers: [{
        name: CONTAINER,
        image: request.image,
        args: [
          `--dockerfile=${request.dockerfile}`,
          "--context=tar://stdin",
          `--destination=${request.destination}`,
          // Only the destination's registry is plain HTTP: base images still come over TLS.
          ...(request.insecure
            ? ["--insecure", `--insecure-registry=${splitHost(request.destination).registry}`]
            : []),
          ...request.extraArgs,
        ],
        // The context arrives on stdin from the one attach kubehook makes, then stdin closes.
        stdin: true,
        stdinOnce: true,
        env: [{ name: "DOCKER_CONFIG", value: DOCKER_CONFIG }],
        volumeMounts: [{ name: "registry-auth", mountPath: DOCKER_CONFIG, readOnly: true }],
      }],
      volumes: [{
        name: "registry-auth",
        secret: {
          secretName: request.registrySecret,
          items: [{ key: ".dockerconfigjson", path: "config.json" }],
        },
      }],
    },
  }),
  failure: (lines) =>
    lines.map(plain).findLast((line) => /^error |^Error: |level=(error|fatal)/.test(line))?.trim(),
  lastInstruction: (lines) => {
    // Kaniko logs each instruction as it starts it: `INFO[0003] RUN make`.
    const line = lines.map(plain).findLast((l) => /^INFO\[\d+\] [A-Z]+ /.test(l));
    return line?.replace(/^INFO\[\d+\] /, "").trim();
  },
};

/** A line without its terminal colours: Kaniko's default log format colours the level
 * (`\x1b[36mINFO\x1b[0m[0003] RUN make`), which the step log shows as the runner would. */
function plain(line: string): string {
  // deno-lint-ignore no-control-regex
  return line.replace(/\x1b\[[0-9;]*m/g, "");
}
