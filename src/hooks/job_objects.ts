/**
 * Finds and removes everything kubehook created for a runner pod, by label: used by cleanup_job,
 * by prepare_job to clear what a crashed earlier job left behind, and by prepare_job when it fails
 * half-way. Selecting by label (not by remembered names) is what makes it work after a crash.
 *
 * @module
 */
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import type { KubeClient } from "../kube/client.ts";
import { podsPath, secretsPath } from "../kube/paths.ts";
import { runnerSelector } from "../pod/metadata.ts";

/** What was removed. */
export interface Removed {
  pods: string[];
  secrets: string[];
}

/** Deletes every pod and secret labelled for `runnerPod` and waits (up to `waitMs`) until the pods
 * are gone, so a new job pod with the same name can be created right after. */
export async function deleteJobObjects(
  client: KubeClient,
  namespace: string,
  runnerPod: string,
  waitMs = 60_000,
): Promise<Removed> {
  const labelSelector = runnerSelector(runnerPod);
  const [pods, secrets] = await Promise.all([
    client.list<V1Pod>(podsPath(namespace), { labelSelector }),
    client.list<V1Secret>(secretsPath(namespace), { labelSelector }),
  ]);
  const podNames = pods.items.map((p) => p.metadata!.name!);
  const secretNames = secrets.items.map((s) => s.metadata!.name!);
  await Promise.all([
    // The job is over and its files are back: nothing in these pods needs a graceful stop, and
    // images whose PID 1 ignores SIGTERM (busybox httpd, many daemons) would hold cleanup for the
    // whole grace period.
    ...podNames.map((name) => client.delete(podsPath(namespace, name), { gracePeriodSeconds: 0 })),
    ...secretNames.map((name) => client.delete(secretsPath(namespace, name))),
  ]);
  if (podNames.length > 0) await waitUntilGone(client, namespace, labelSelector, waitMs);
  return { pods: podNames, secrets: secretNames };
}

/** Watches the labelled pods until none is left or `waitMs` passes (then it returns quietly: the
 * pods are terminating and Kubernetes finishes the job). */
async function waitUntilGone(
  client: KubeClient,
  namespace: string,
  labelSelector: string,
  waitMs: number,
): Promise<void> {
  const signal = AbortSignal.timeout(waitMs);
  try {
    while (!signal.aborted) {
      const list = await client.list<V1Pod>(podsPath(namespace), { labelSelector, signal });
      const left = new Set(list.items.map((p) => p.metadata!.name!));
      if (left.size === 0) return;
      for await (
        const event of client.watch<V1Pod>(podsPath(namespace), {
          labelSelector,
          resourceVersion: list.metadata?.resourceVersion,
        }, signal)
      ) {
        if (event.type === "DELETED") left.delete(event.object.metadata!.name!);
        if (left.size === 0) return;
      }
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}
