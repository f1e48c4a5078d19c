/**
 * The one-container pods the client tests run commands in: `restartPolicy: Never`, container
 * `main`.
 *
 * @example
 * ```ts
 * const pod = commandPod("quiet", ["sleep", "3600"], { labels: { "kubehook-test": "rest" } });
 * pod.spec?.containers[0].name; // "main"
 * ```
 * @module
 */
import type { V1ObjectMeta, V1Pod } from "@kubernetes/client-node";

/** A pod named `name` whose container `main` runs `command` in `image`. */
export function commandPod(
  name: string,
  command: string[],
  metadata: V1ObjectMeta = {},
  image = "busybox:1.36",
): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, ...metadata },
    spec: { restartPolicy: "Never", containers: [{ name: "main", image, command }] },
  };
}
