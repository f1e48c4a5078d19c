/**
 * The seam between the local cluster's two halves: the API server (store, REST, watch, websockets,
 * authorization, faults) and the kubelet (pods as bwrap sandboxes). The API server owns the objects;
 * the kubelet runs what the store holds and reports back only through {@link ClusterStore}.
 *
 * @module
 */
import type { V1Pod, V1PodStatus } from "@kubernetes/client-node";

/** The resources the local cluster serves, by their REST plural. */
export type Resource =
  | "namespaces"
  | "pods"
  | "secrets"
  | "events"
  | "persistentvolumeclaims";

/** What the kubelet may read and write in the API server's store. */
export interface ClusterStore {
  /** One object, or undefined when it does not exist (namespaces: pass "" as namespace). */
  get<T>(resource: Resource, namespace: string, name: string): T | undefined;
  /** Replaces a pod's status through `update`, bumps its resourceVersion and emits MODIFIED to
   * watchers. Does nothing when the pod is already gone. */
  updatePodStatus(
    namespace: string,
    name: string,
    update: (status: V1PodStatus) => V1PodStatus,
  ): void;
  /** Records an Event about a pod from the kubelet; `fieldPath` names the container it is about
   * (`spec.containers{name}`). */
  recordEvent(
    pod: V1Pod,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
    fieldPath?: string,
  ): void;
  /** Removes a pod object for good (emits DELETED); the kubelet calls it when a deleted pod's
   * processes are gone and its sandbox is removed. */
  removePod(namespace: string, name: string): void;
  /** The host directory a bound PersistentVolumeClaim stands for, or undefined when none. */
  claimHostPath(namespace: string, claimName: string): string | undefined;
}

/** A process started in a container by exec, or the container's own process by attach. */
export interface ContainerProcess {
  /** Present when the request asked for stdin; closing it is the process's stdin EOF. */
  stdin: WritableStream<Uint8Array> | null;
  stdout: ReadableStream<Uint8Array>;
  /** Empty (closes at once) when tty is true: a terminal merges both streams. */
  stderr: ReadableStream<Uint8Array>;
  /** Resolves with the exit code (128+signal when killed) once the process has ended. */
  exitCode: Promise<number>;
  /** Sends a signal to the process (used when the API server gives up on a session). */
  kill(signal: Deno.Signal): void;
}

/** What an exec or attach names. */
export interface ProcessRequest {
  namespace: string;
  pod: string;
  /** Defaults to annotation `kubectl.kubernetes.io/default-container`, then containers[0]. */
  container?: string;
  /** exec only: argv, never run through a shell by the kubelet itself. */
  command: string[];
  stdin: boolean;
  tty: boolean;
}

/** Thrown by exec/attach/logs when the request cannot be served; `code` is the HTTP status the API
 * server answers with (exec: 500 InternalError "error executing command in container: ..."; logs:
 * 400 "container \"c\" in pod \"p\" is waiting to start: ContainerCreating"). */
export class RuntimeError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = "RuntimeError";
  }
}

/** Options of pods/log. */
export interface LogOptions {
  follow: boolean;
  tailLines?: number;
  /** RFC 3339; only lines written at or after it. */
  sinceTime?: string;
  previous?: boolean;
  /** Each line prefixed with the RFC 3339 time it was written and a space, as kubelet does. */
  timestamps?: boolean;
}

/** The kubelet, as the API server drives it. */
export interface PodRuntime {
  /** Starts running a stored pod in the background (image pull, init containers, containers) and
   * reports every status change through the store. `delayMs` comes from a pod-start-delay fault. */
  startPod(pod: V1Pod, options?: { delayMs?: number }): void;
  /** Starts the ephemeral containers of `pod` (as stored after a `pods/ephemeralcontainers`
   * update) that do not run yet; each runs once, never restarted, once the pod runs. */
  addEphemeralContainers(pod: V1Pod): void;
  /** SIGTERM to every container, SIGKILL after the grace period, removes the sandbox, then calls
   * `store.removePod`. Resolves when the pod is gone. Safe to call for a pod never started. */
  deletePod(namespace: string, name: string, gracePeriodSeconds: number): Promise<void>;
  /** Kills every container and marks the pod Failed with reason Evicted, as the node's eviction
   * manager does. */
  evictPod(namespace: string, name: string, message: string): Promise<void>;
  /** Starts `command` in a running container. */
  exec(request: ProcessRequest): Promise<ContainerProcess>;
  /** Attaches to the container's main process (stdin only when the container has `stdin: true`). */
  attach(request: ProcessRequest): Promise<ContainerProcess>;
  /** The container's log (stdout and stderr as written, in order). */
  logs(namespace: string, pod: string, container: string, options: LogOptions): ReadableStream<
    Uint8Array
  >;
  /** Kills every pod process and removes every sandbox and temp directory. */
  shutdown(): Promise<void>;
}
