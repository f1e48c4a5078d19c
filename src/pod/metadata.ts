/**
 * The metadata every object kubehook creates carries: labels that let cleanup find them (also after a
 * prepare_job that failed half-way) and an ownerReference to the runner pod, so Kubernetes deletes
 * the orphans of a runner pod that died.
 *
 * @example
 * ```ts
 * const labels = kubehookLabels("arc-runner-x7k2p", "arc-runner-x7k2p-workflow");
 * const selector = runnerSelector("arc-runner-x7k2p"); // for list/deletecollection
 * ```
 * @module
 */
import type { V1OwnerReference } from "@kubernetes/client-node";
import { MAX_NAME_LENGTH, shortHash } from "./names.ts";

/** The upstream hooks' label: the runner pod an object belongs to. */
export const RUNNER_POD_LABEL = "runner-pod";
/** The standard label naming the tool that manages an object. */
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
/** kubehook's label: the job pod of the job an object belongs to. */
export const JOB_LABEL = "kubehook.io/job";
/** Labels a pod template may not change (cleanup selects by them). */
export const RESERVED_LABELS: readonly string[] = [RUNNER_POD_LABEL, MANAGED_BY_LABEL, JOB_LABEL];

/** The labels of every object created for the job whose pod is `jobPod`. */
export function kubehookLabels(runnerPod: string, jobPod: string): Record<string, string> {
  return {
    [RUNNER_POD_LABEL]: labelValue(runnerPod),
    [MANAGED_BY_LABEL]: "kubehook",
    [JOB_LABEL]: labelValue(jobPod),
  };
}

/** Label selector for everything kubehook created for this runner pod. */
export function runnerSelector(runnerPod: string): string {
  return `${RUNNER_POD_LABEL}=${labelValue(runnerPod)},${MANAGED_BY_LABEL}=kubehook`;
}

/** The ownerReference to the runner pod. It does not block the owner's deletion (that would need
 * the `pods/finalizers` permission), it only lets the garbage collector remove orphans. */
export function runnerOwnerReference(runnerPod: string, uid: string): V1OwnerReference {
  return { apiVersion: "v1", kind: "Pod", name: runnerPod, uid };
}

/** `text` as a valid label value (≤ 63 characters, alphanumeric at both ends); a longer value keeps
 * its start plus a stable hash of the whole, so every hook call computes the same selector. */
export function labelValue(text: string): string {
  const clean = text.replace(/[^A-Za-z0-9._-]+/g, "-").replace(
    /^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g,
    "",
  );
  if (clean.length <= MAX_NAME_LENGTH && clean === text) return clean;
  const tail = `-${shortHash(text)}`;
  return clean.slice(0, MAX_NAME_LENGTH - tail.length).replace(/[^A-Za-z0-9]+$/, "") + tail;
}
