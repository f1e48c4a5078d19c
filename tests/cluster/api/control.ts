/**
 * The control plane behind the REST handlers: creating objects (defaults, validation, the
 * namespace rule), scheduling pods onto the single node (a pod whose host ports are taken waits
 * until a pod leaves) and handing them to the kubelet,
 * graceful pod deletion through the kubelet, namespace termination, claim binding, background
 * garbage collection of objects whose owner is gone, and the {@link ClusterStore} view the
 * kubelet gets.
 *
 * @module
 */
import type { V1Pod, V1PodStatus } from "@kubernetes/client-node";
import type { ClusterStore, PodRuntime, Resource } from "../contract.ts";
import { bindClaim, claimHostPath, releaseClaim } from "./claims.ts";
import { applyDefaults } from "./defaults.ts";
import { NODE_NAME, recordPodEvent } from "./events.ts";
import type { Faults } from "./faults.ts";
import type { Change, KubeObject, ObjectStore } from "./store.ts";
import { hostPortsTaken, PORTS_TAKEN } from "./host_ports.ts";
import { failure, notFound, type Status, success } from "./status.ts";
import { validate } from "./validation.ts";

/** Succeeded or Failed: done on the node for good. */
const finished = (pod: KubeObject) =>
  ["Succeeded", "Failed"].includes((pod.status as V1PodStatus | undefined)?.phase ?? "");

const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

/** Where the control plane keeps state and which faults it obeys. */
export interface ControlOptions {
  stateDir: string;
  faults: Faults;
}

/** Creates, deletes and reconciles objects; see the module doc. */
export class ControlPlane {
  #runtime: PodRuntime | undefined;
  #pending = new Set<Promise<unknown>>();
  #stopGc: () => void;
  #closing = new AbortController();

  constructor(readonly store: ObjectStore, readonly options: ControlOptions) {
    for (const name of ["default", "kube-system", "kube-public"]) {
      store.create("namespaces", "", applyDefaults("namespaces", { metadata: { name } }));
    }
    this.#stopGc = store.subscribe((change) => {
      this.#collectGarbage(change);
      this.#retryWaiting(change);
    });
  }

  /** The kubelet; set once, right after it was created from {@link kubeletView}. */
  set runtime(runtime: PodRuntime) {
    this.#runtime = runtime;
  }

  get runtime(): PodRuntime {
    if (!this.#runtime) throw new Error("the local cluster's kubelet was not started");
    return this.#runtime;
  }

  /** What the kubelet may read and write. */
  kubeletView(): ClusterStore {
    const { store } = this;
    return {
      get: <T>(resource: Resource, namespace: string, name: string) =>
        store.get(resource, namespace, name) as T | undefined,
      updatePodStatus: (namespace: string, name: string, update: (s: V1PodStatus) => V1PodStatus) =>
        void store.update("pods", namespace, name, (pod) => {
          pod.status = update(structuredClone(pod.status ?? {}) as V1PodStatus);
          return pod;
        }),
      recordEvent: (pod, type, reason, message, fieldPath) =>
        recordPodEvent(store, pod, type, reason, message, { fieldPath }),
      removePod: (namespace: string, name: string) => void store.remove("pods", namespace, name),
      claimHostPath: (namespace: string, claim: string) =>
        claimHostPath(store, this.options.stateDir, namespace, claim),
    };
  }

  /** Creates an object as POST does: defaults, validation, namespace checks, then reactions
   * (pods are scheduled, claims bound). Returns the stored object. */
  create(resource: Resource, namespace: string, body: KubeObject): KubeObject {
    if (namespace) {
      const ns = this.store.get("namespaces", "", namespace);
      if (!ns) throw notFound("namespaces", namespace);
      if ((ns.status as { phase?: string }).phase === "Terminating") {
        throw failure(
          403,
          "Forbidden",
          `${resource} "${body.metadata?.name ?? ""}" is forbidden: unable to create new ` +
            `content in namespace ${namespace} because it is being terminated`,
        );
      }
    }
    const object = applyDefaults(resource, structuredClone(body));
    object.metadata = { ...object.metadata };
    delete object.metadata.resourceVersion;
    delete object.metadata.uid;
    delete object.metadata.creationTimestamp;
    delete object.metadata.deletionTimestamp;
    if (object.metadata.generateName) {
      object.metadata.generateName = object.metadata.generateName.slice(0, 58);
    }
    validate(resource, object);
    const stored = this.store.create(resource, namespace, object);
    if (resource === "pods") this.#schedule(stored);
    if (resource === "persistentvolumeclaims") {
      this.#track(bindClaim(this.store, this.options.stateDir, stored));
    }
    return this.store.get(resource, namespace, stored.metadata.name!) ?? stored;
  }

  /** Deletes one object as DELETE does. Pods terminate gracefully through the kubelet (and are
   * returned with their deletionTimestamp); other kinds go at once and yield a Status. */
  async delete(
    resource: Resource,
    namespace: string,
    name: string,
    gracePeriodSeconds?: number,
  ): Promise<KubeObject | Status> {
    const object = this.store.get(resource, namespace, name);
    if (!object) throw notFound(resource, name);
    if (resource === "pods") return await this.#deletePod(object, gracePeriodSeconds);
    if (resource === "namespaces") return this.#terminateNamespace(object);
    this.store.remove(resource, namespace, name);
    if (resource === "persistentvolumeclaims") {
      await releaseClaim(this.options.stateDir, object);
    }
    return resource === "secrets"
      ? success({ name, kind: resource, uid: object.metadata.uid })
      : object;
  }

  /** Marks the pod Failed with reason Evicted through the kubelet, as node pressure does. */
  async evict(namespace: string, name: string, message?: string): Promise<void> {
    if (!this.store.get("pods", namespace, name)) throw notFound("pods", name);
    await this.runtime.evictPod(
      namespace,
      name,
      message ?? "The node was low on resource: memory. Threshold quantity: 100Mi.",
    );
  }

  /** Waits for background work (claim binding, collection, pod removal) to settle. */
  async settle(): Promise<void> {
    while (this.#pending.size) await Promise.allSettled([...this.#pending]);
  }

  /** Stops reacting to changes and waits for work in flight. */
  async close(): Promise<void> {
    this.#stopGc();
    this.#closing.abort();
    await this.settle();
  }

  #track<T>(work: Promise<T>): Promise<T> {
    const tracked = work.finally(() => this.#pending.delete(tracked));
    tracked.catch((error) => console.error(`local cluster: ${error}`));
    this.#pending.add(tracked);
    return tracked;
  }

  /** Pods that did not fit the node for their host ports: tried again when a pod goes. */
  #waiting = new Set<string>();

  #schedule(pod: KubeObject): void {
    const { namespace = "", name = "" } = pod.metadata;
    if (this.options.faults.takeUnschedulable()) {
      return this.#unschedulable(
        pod,
        "0/1 nodes are available: 1 node(s) were unschedulable. preemption: " +
          "0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
      );
    }
    // The scheduler sees the node's pods that have not finished (its informer leaves out
    // Succeeded and Failed ones).
    const onNode = this.store.list("pods").filter((p) =>
      (p.spec as V1Pod["spec"])?.nodeName && !finished(p)
    );
    if (hostPortsTaken(pod as V1Pod, onNode as V1Pod[])) {
      this.#waiting.add(`${namespace}/${name}`);
      return this.#unschedulable(pod, PORTS_TAKEN);
    }
    this.#waiting.delete(`${namespace}/${name}`);
    const bound = this.store.update("pods", namespace, name, (p) => {
      (p.spec as { nodeName?: string }).nodeName = NODE_NAME;
      (p.status as V1PodStatus).conditions = [{
        type: "PodScheduled",
        status: "True",
        lastProbeTime: null as unknown as undefined,
        lastTransitionTime: now() as unknown as Date,
      }];
      return p;
    })!;
    recordPodEvent(
      this.store,
      bound,
      "Normal",
      "Scheduled",
      `Successfully assigned ${namespace}/${name} to ${NODE_NAME}`,
      { component: "default-scheduler" },
    );
    const delayMs = this.options.faults.takeStartDelay();
    this.runtime.startPod(bound as V1Pod, delayMs === undefined ? {} : { delayMs });
  }

  #unschedulable(pod: KubeObject, message: string): void {
    const { namespace = "", name = "" } = pod.metadata;
    const updated = this.store.update("pods", namespace, name, (p) => {
      (p.status as V1PodStatus).conditions = [{
        type: "PodScheduled",
        status: "False",
        reason: "Unschedulable",
        message,
        lastProbeTime: null as unknown as undefined,
        lastTransitionTime: now() as unknown as Date,
      }];
      return p;
    });
    recordPodEvent(this.store, updated!, "Warning", "FailedScheduling", message, {
      component: "default-scheduler",
    });
  }

  /** A pod left the node or finished: the ones waiting for its ports are tried again, oldest
   * first. */
  #retryWaiting(change: Change): void {
    if (this.#waiting.size === 0 || change.resource !== "pods") return;
    if (change.type !== "DELETED" && !finished(change.object)) return;
    for (const key of [...this.#waiting]) {
      const [namespace, name] = key.split("/");
      const pod = this.store.get("pods", namespace, name);
      this.#waiting.delete(key);
      if (pod && !(pod.spec as V1Pod["spec"])?.nodeName) this.#schedule(pod);
    }
  }

  async #deletePod(pod: KubeObject, gracePeriodSeconds?: number): Promise<KubeObject> {
    const { namespace = "", name = "", uid } = pod.metadata;
    const spec = pod.spec as { terminationGracePeriodSeconds?: number; nodeName?: string };
    const grace = finished(pod) || !spec.nodeName
      ? 0
      : gracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30;
    const previous = pod.metadata.deletionGracePeriodSeconds;
    if (previous !== undefined && previous <= grace) return pod;
    const marked = this.store.update("pods", namespace, name, (p) => {
      p.metadata.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString()
        .replace(/\.\d+Z$/, "Z");
      p.metadata.deletionGracePeriodSeconds = grace;
      return p;
    }) ?? pod;
    const gone = this.#track(
      this.runtime.deletePod(namespace, name, grace).finally(() => {
        if (this.store.get("pods", namespace, name)?.metadata.uid === uid) {
          this.store.remove("pods", namespace, name);
        }
      }),
    );
    // A zero grace period removes the object at once on a real server; waiting for the kubelet
    // keeps that promise without racing a new pod of the same name against the old sandbox.
    if (grace === 0) await gone.catch(() => {});
    return marked;
  }

  #terminateNamespace(ns: KubeObject): KubeObject {
    const name = ns.metadata.name ?? "";
    const marked = this.store.update("namespaces", "", name, (n) => {
      n.metadata.deletionTimestamp = now();
      n.status = { phase: "Terminating" };
      return n;
    })!;
    const resources: Resource[] = ["pods", "secrets", "events", "persistentvolumeclaims"];
    this.#track((async () => {
      for (const resource of resources) {
        await Promise.all(
          this.store.list(resource, name).map((o) =>
            this.delete(resource, name, o.metadata.name ?? "").catch(() => {})
          ),
        );
      }
      await this.#until(() => this.store.list("pods", name).length === 0);
      this.store.remove("namespaces", "", name);
    })());
    return marked;
  }

  /** Resolves once `condition` holds, checking after every change. */
  #until(condition: () => boolean): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        stop();
        this.#closing.signal.removeEventListener("abort", done);
        resolve();
      };
      const stop = this.store.subscribe(() => condition() && done());
      this.#closing.signal.addEventListener("abort", done);
    });
  }

  /** Background cascading deletion: dependents of a deleted object are deleted too. */
  #collectGarbage(change: Change): void {
    if (change.type !== "DELETED" || change.resource === "events") return;
    const { uid, namespace } = change.object.metadata;
    if (!uid || !namespace) return;
    const kinds: Resource[] = ["pods", "secrets", "persistentvolumeclaims"];
    for (const resource of kinds) {
      for (const dependent of this.store.list(resource, namespace)) {
        if (dependent.metadata.ownerReferences?.some((o) => o.uid === uid)) {
          const name = dependent.metadata.name ?? "";
          // The dependent may be gone already (deleted by its own client meanwhile).
          this.#track(this.delete(resource, namespace, name).catch(() => {}));
        }
      }
    }
  }
}
