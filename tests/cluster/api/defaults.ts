/**
 * The defaults the real API server (and its default admission plugins) fill in on create, so
 * clients read back what they would read from a real cluster: a pod's `restartPolicy: Always`,
 * `terminationGracePeriodSeconds: 30`, `dnsPolicy: ClusterFirst`, `imagePullPolicy` from the
 * image tag, `status.phase: Pending` and its QoS class; a secret's `stringData` folded into
 * `data`; a namespace's `kubernetes.io/metadata.name` label.
 *
 * @module
 */
import type { Resource } from "../contract.ts";
import type { KubeObject } from "./store.ts";
import { kindOf } from "./validation.ts";

type Json = Record<string, unknown>;

/** `Always` for untagged or `:latest` images, `IfNotPresent` otherwise (digests included). */
export function defaultPullPolicy(image: string): "Always" | "IfNotPresent" {
  if (image.includes("@")) return "IfNotPresent";
  const lastPart = image.slice(image.lastIndexOf("/") + 1);
  const tag = lastPart.includes(":") ? lastPart.slice(lastPart.indexOf(":") + 1) : "";
  return tag === "" || tag === "latest" ? "Always" : "IfNotPresent";
}

/** A container's defaults (also an ephemeral container's, when one is added). */
export function defaultContainer(c: Json): void {
  if (typeof c.image === "string") c.imagePullPolicy ??= defaultPullPolicy(c.image);
  c.terminationMessagePath ??= "/dev/termination-log";
  c.terminationMessagePolicy ??= "File";
  c.resources ??= {};
  // A limit without a request is also the request, as the API server defaults it.
  const resources = c.resources as Json;
  if (resources.limits) {
    resources.requests = { ...resources.limits as Json, ...resources.requests as Json | undefined };
  }
  for (const port of (c.ports ?? []) as Json[]) port.protocol ??= "TCP";
}

/** Guaranteed when every container's requests equal its limits for cpu and memory, Burstable
 * when any container asks for resources, BestEffort otherwise. */
function qosClass(containers: Json[]): string {
  const resources = containers.map((c) => (c.resources ?? {}) as Json);
  const any = resources.some((r) =>
    Object.keys((r.requests ?? {}) as Json).length + Object.keys((r.limits ?? {}) as Json).length
  );
  if (!any) return "BestEffort";
  const guaranteed = resources.every((r) => {
    const limits = (r.limits ?? {}) as Json;
    const requests = { ...limits, ...(r.requests ?? {}) as Json };
    return ["cpu", "memory"].every((k) => limits[k] !== undefined && limits[k] === requests[k]);
  });
  return guaranteed ? "Guaranteed" : "Burstable";
}

function defaultPod(pod: KubeObject): void {
  const spec = pod.spec as Json | undefined;
  if (!spec || typeof spec !== "object") return;
  spec.restartPolicy ??= "Always";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= "ClusterFirst";
  spec.schedulerName ??= "default-scheduler";
  spec.securityContext ??= {};
  spec.serviceAccountName ??= "default";
  spec.serviceAccount ??= spec.serviceAccountName;
  spec.enableServiceLinks ??= true;
  spec.priority ??= 0;
  spec.preemptionPolicy ??= "PreemptLowerPriority";
  spec.tolerations ??= ["not-ready", "unreachable"].map((condition) => ({
    key: `node.kubernetes.io/${condition}`,
    operator: "Exists",
    effect: "NoExecute",
    tolerationSeconds: 300,
  }));
  const containers = (spec.containers ?? []) as Json[];
  for (const c of [...containers, ...(spec.initContainers ?? []) as Json[]]) defaultContainer(c);
  pod.status = { phase: "Pending", qosClass: qosClass(containers) };
}

function defaultSecret(secret: KubeObject): void {
  secret.type ??= "Opaque";
  const stringData = secret.stringData as Record<string, string> | undefined;
  if (stringData) {
    const data = (secret.data ?? {}) as Record<string, string>;
    for (const [k, v] of Object.entries(stringData)) {
      data[k] = btoa(String.fromCodePoint(...new TextEncoder().encode(String(v))));
    }
    secret.data = data;
    delete secret.stringData;
  }
}

/** Fills in defaults and `kind`/`apiVersion` on an object about to be created. */
export function applyDefaults(resource: Resource, object: KubeObject): KubeObject {
  object.kind = kindOf(resource);
  object.apiVersion = "v1";
  if (resource === "pods") defaultPod(object);
  else if (resource === "secrets") defaultSecret(object);
  else if (resource === "persistentvolumeclaims") {
    const spec = (object.spec ??= {}) as Json;
    spec.volumeMode ??= "Filesystem";
    object.status = { phase: "Pending" };
  } else if (resource === "namespaces") {
    object.spec = { finalizers: ["kubernetes"] };
    object.status = { phase: "Active" };
    if (object.metadata.name) {
      object.metadata.labels = {
        ...object.metadata.labels,
        "kubernetes.io/metadata.name": object.metadata.name,
      };
    }
  }
  return object;
}
