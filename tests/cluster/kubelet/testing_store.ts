/**
 * A tiny in-memory stand-in for the API server's store, for the kubelet's own tests: pods with
 * their status, secrets, claims, events, and a way to wait until a pod's status satisfies a test;
 * plus helpers that run a kubelet over it and check that nothing it started survives.
 *
 * @module
 */
import type { V1Container, V1Pod, V1PodSpec, V1PodStatus, V1Secret } from "@kubernetes/client-node";
import type { ClusterStore, PodRuntime, Resource } from "../contract.ts";
import { createKubelet } from "./mod.ts";

/** One recorded event, flattened. */
export interface RecordedEvent {
  pod: string;
  type: string;
  reason: string;
  message: string;
  /** The container it is about, as `spec.containers{name}`. */
  fieldPath?: string;
}

/** The kubelet's view of a store, in memory. */
export class TestStore implements ClusterStore {
  objects = new Map<string, unknown>();
  events: RecordedEvent[] = [];
  claims = new Map<string, string>();
  #listeners = new Set<() => void>();

  get<T>(resource: Resource, namespace: string, name: string): T | undefined {
    return this.objects.get(`${resource}/${namespace}/${name}`) as T | undefined;
  }

  /** Adds a pod (with a uid) or a secret, as a client's create would. */
  put(resource: "pods" | "secrets", object: V1Pod | V1Secret): void {
    const meta = object.metadata!;
    meta.namespace ??= "default";
    meta.uid ??= crypto.randomUUID();
    this.objects.set(`${resource}/${meta.namespace}/${meta.name}`, object);
  }

  updatePodStatus(
    namespace: string,
    name: string,
    update: (status: V1PodStatus) => V1PodStatus,
  ): void {
    const pod = this.get<V1Pod>("pods", namespace, name);
    if (!pod) return;
    pod.status = update(structuredClone(pod.status ?? {}));
    this.#notify();
  }

  recordEvent(
    pod: V1Pod,
    type: string,
    reason: string,
    message: string,
    fieldPath?: string,
  ): void {
    this.events.push({ pod: pod.metadata?.name ?? "", type, reason, message, fieldPath });
    this.#notify();
  }

  removePod(namespace: string, name: string): void {
    this.objects.delete(`pods/${namespace}/${name}`);
    this.#notify();
  }

  claimHostPath(namespace: string, claimName: string): string | undefined {
    return this.claims.get(`${namespace}/${claimName}`);
  }

  /** Resolves with the pod's status once `test` holds; rejects naming `what` if it never does. */
  until(
    name: string,
    what: string,
    test: (status: V1PodStatus) => boolean,
    namespace = "default",
  ): Promise<V1PodStatus> {
    return this.#wait(what, () => {
      const status = this.get<V1Pod>("pods", namespace, name)?.status;
      return status && test(status) ? status : undefined;
    }, () => JSON.stringify(this.get<V1Pod>("pods", namespace, name)?.status));
  }

  /** Resolves once an event with `reason` about `pod` was recorded. */
  untilEvent(pod: string, reason: string): Promise<RecordedEvent> {
    return this.#wait(
      `event ${reason}`,
      () => this.events.find((e) => e.pod === pod && e.reason === reason),
      () => JSON.stringify(this.events.filter((e) => e.pod === pod)),
    );
  }

  /** Resolves once `name` was removed from the store. */
  untilGone(name: string, namespace = "default"): Promise<true> {
    return this.#wait(
      "removal",
      () => this.get("pods", namespace, name) ? undefined : true,
      () => "still there",
    );
  }

  #wait<T>(what: string, check: () => T | undefined, describe: () => string): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = () => {
        const value = check();
        if (value === undefined) return;
        this.#listeners.delete(done);
        clearTimeout(timer);
        resolve(value);
      };
      // A safety net so a broken kubelet fails the test instead of hanging it.
      const timer = setTimeout(() => {
        this.#listeners.delete(done);
        reject(new Error(`never saw ${what}; last: ${describe()}`));
      }, 30_000);
      this.#listeners.add(done);
      done();
    });
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}

/** Runs `test` with a fresh kubelet over a {@link TestStore}; shuts it down and checks that no
 * process started under its state directory survived. */
export async function withKubelet(
  test: (kubelet: PodRuntime, store: TestStore, stateDir: string) => Promise<void>,
): Promise<void> {
  const stateDir = await Deno.makeTempDir({ prefix: "kubelet-test-" });
  const store = new TestStore();
  const kubelet = createKubelet(store, { stateDir });
  let survivors: string[] = [];
  try {
    await test(kubelet, store, stateDir);
  } finally {
    await kubelet.shutdown();
    survivors = processesMentioning(stateDir);
    await Deno.remove(stateDir, { recursive: true });
  }
  if (survivors.length > 0) throw new Error(`processes survived shutdown: ${survivors.join("; ")}`);
}

/** Command lines of live processes that mention `text` (e.g. a pod's directory). */
export function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name) || entry.name === String(Deno.pid)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).replaceAll("\0", " ");
      if (cmdline.includes(text)) found.push(`${entry.name}: ${cmdline}`);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** A pod named `name` with `containers` and any further spec fields. */
export function testPod(
  name: string,
  containers: V1Container[],
  spec: Partial<V1PodSpec> = {},
): V1Pod {
  return {
    metadata: { name, namespace: "default" },
    spec: { restartPolicy: "Never", containers, ...spec },
  };
}

/** Starts `pod` as the API server would: stored first, then handed to the kubelet. */
export function runPod(kubelet: PodRuntime, store: TestStore, pod: V1Pod): void {
  store.put("pods", pod);
  kubelet.startPod(pod);
}

/** Everything a stream yields, as text. */
export function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}
