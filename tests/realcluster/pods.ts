/**
 * Pods for the real tier's own tests, through the API with the admin context: create one, wait
 * until it gets somewhere, delete it. Namespace `default`.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import type { RealCluster } from "./mod.ts";

export const NS = "/api/v1/namespaces/default";

/** Creates `pod` (a whole manifest, or a name and a spec). */
export async function createPod(
  cluster: RealCluster,
  pod: V1Pod | { name: string; spec: Record<string, unknown> },
): Promise<void> {
  const manifest = "name" in pod
    ? { apiVersion: "v1", kind: "Pod", metadata: { name: pod.name }, spec: pod.spec }
    : pod;
  const created = await cluster.fetch(`${NS}/pods`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(manifest),
  });
  assert.equal(created.status, 201, await created.text());
}

/** Creates a pod and waits until `ready` says yes about it; returns it then. */
export async function runPod(
  cluster: RealCluster,
  name: string,
  spec: Record<string, unknown>,
  ready: (pod: V1Pod) => boolean = (pod) => pod.status?.phase === "Running",
): Promise<V1Pod> {
  await createPod(cluster, { name, spec });
  return await waitPod(cluster, name, ready);
}

/** The pod `name` (or the API's answer when there is none) once `ready` holds for it; polled for a
 * minute at the most. */
export async function waitPod(
  cluster: RealCluster,
  name: string,
  ready: (pod: V1Pod) => boolean,
): Promise<V1Pod> {
  let pod: V1Pod | undefined;
  for (let i = 0; i < 600; i++) {
    pod = await (await cluster.fetch(`${NS}/pods/${name}`)).json();
    if (ready(pod!)) return pod!;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`pod ${name} never got there: ${JSON.stringify(pod?.status)}`);
}

export async function deletePod(cluster: RealCluster, name: string): Promise<void> {
  await (await cluster.fetch(`${NS}/pods/${name}?gracePeriodSeconds=0`, { method: "DELETE" }))
    .body?.cancel();
}
