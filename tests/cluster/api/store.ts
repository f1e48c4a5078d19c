/**
 * The API server's object store: every object by resource, namespace and name, a cluster-wide
 * resourceVersion counter, and a bounded history of changes so that watches can resume from a
 * resourceVersion (older ones get 410 Expired, as etcd compaction causes on a real cluster).
 *
 * ```ts
 * const store = new ObjectStore();
 * const pod = store.create("pods", "default", { metadata: { generateName: "job-" }, spec });
 * const stop = store.subscribe((change) => console.log(change.type, change.object.metadata.name));
 * ```
 *
 * @module
 */
import type { Resource } from "../contract.ts";
import { alreadyExists, expired } from "./status.ts";

/** Object metadata as the store fills it in. */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { uid: string; kind: string; name: string; apiVersion: string }[];
  [field: string]: unknown;
}

/** Any stored API object. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** One change, as watches stream it. `previous` is the object before a MODIFIED. */
export interface Change {
  type: "ADDED" | "MODIFIED" | "DELETED";
  resource: Resource;
  resourceVersion: number;
  object: KubeObject;
  previous?: KubeObject;
}

const NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789";

/** A random suffix like the API server's for generateName. */
export function randomSuffix(length = 5): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (b) => NAME_CHARS[b % NAME_CHARS.length]).join("");
}

function key(resource: Resource, namespace: string, name: string): string {
  return `${resource}\u0000${namespace}\u0000${name}`;
}

/** In-memory objects plus change history and change listeners. */
export class ObjectStore {
  #objects = new Map<string, KubeObject>();
  #revision = 1;
  #history: Change[] = [];
  #listeners = new Set<(change: Change) => void>();

  /** `historySize`: how many changes are kept for watch resume; older resourceVersions are
   * "too old" (410), as after etcd compaction. */
  constructor(readonly historySize = 1000) {}

  /** The newest resourceVersion handed out. */
  get revision(): number {
    return this.#revision;
  }

  /** A copy of one object, or undefined. */
  get(resource: Resource, namespace: string, name: string): KubeObject | undefined {
    const object = this.#objects.get(key(resource, namespace, name));
    return object && structuredClone(object);
  }

  /** Copies of all objects of a resource, in one namespace or (undefined) in all, by name. */
  list(resource: Resource, namespace?: string): KubeObject[] {
    const prefix = namespace === undefined
      ? `${resource}\u0000`
      : `${resource}\u0000${namespace}\u0000`;
    const found: KubeObject[] = [];
    for (const [k, object] of this.#objects) {
      if (k.startsWith(prefix)) found.push(structuredClone(object));
    }
    return found.sort((a, b) =>
      `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
        `${b.metadata.namespace}/${b.metadata.name}`,
      )
    );
  }

  /** Stores a new object: fills name (from generateName), uid, resourceVersion,
   * creationTimestamp and namespace; 409 when the name is taken. Returns a copy. */
  create(resource: Resource, namespace: string, object: KubeObject): KubeObject {
    const stored = structuredClone(object);
    const meta = stored.metadata;
    if (!meta.name && meta.generateName) meta.name = meta.generateName + randomSuffix();
    const name = meta.name ?? "";
    const k = key(resource, namespace, name);
    if (this.#objects.has(k)) throw alreadyExists(resource, name);
    if (namespace) meta.namespace = namespace;
    else delete meta.namespace;
    meta.uid = crypto.randomUUID();
    meta.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    meta.resourceVersion = String(++this.#revision);
    this.#objects.set(k, stored);
    this.#emit({ type: "ADDED", resource, resourceVersion: this.#revision, object: stored });
    return structuredClone(stored);
  }

  /** Changes an object in place through `mutate`, bumps its resourceVersion and emits MODIFIED.
   * Returns the new copy, or undefined when the object does not exist. */
  update(
    resource: Resource,
    namespace: string,
    name: string,
    mutate: (object: KubeObject) => KubeObject,
  ): KubeObject | undefined {
    const k = key(resource, namespace, name);
    const current = this.#objects.get(k);
    if (!current) return undefined;
    const next = mutate(structuredClone(current));
    next.metadata.resourceVersion = String(++this.#revision);
    this.#objects.set(k, next);
    this.#emit({
      type: "MODIFIED",
      resource,
      resourceVersion: this.#revision,
      object: next,
      previous: current,
    });
    return structuredClone(next);
  }

  /** Removes an object for good and emits DELETED; returns it, or undefined if it was gone. */
  remove(resource: Resource, namespace: string, name: string): KubeObject | undefined {
    const k = key(resource, namespace, name);
    const current = this.#objects.get(k);
    if (!current) return undefined;
    this.#objects.delete(k);
    const gone = structuredClone(current);
    gone.metadata.resourceVersion = String(++this.#revision);
    this.#emit({ type: "DELETED", resource, resourceVersion: this.#revision, object: gone });
    return structuredClone(gone);
  }

  /** Calls `listener` for every later change; returns the function that stops it. */
  subscribe(listener: (change: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The changes after `resourceVersion`; 410 Expired when history no longer reaches back. */
  changesSince(resourceVersion: number, requested: string): Change[] {
    const oldest = this.#history.length ? this.#history[0].resourceVersion : this.#revision + 1;
    if (resourceVersion + 1 < oldest) throw expired(requested, oldest - 1);
    return this.#history.filter((c) => c.resourceVersion > resourceVersion);
  }

  #emit(change: Change): void {
    this.#history.push(change);
    if (this.#history.length > this.historySize) {
      this.#history.splice(0, this.#history.length - this.historySize);
    }
    for (const listener of [...this.#listeners]) listener(change);
  }
}
