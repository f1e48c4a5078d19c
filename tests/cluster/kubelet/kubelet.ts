/**
 * The kubelet as the API server drives it ({@link PodRuntime}): a {@link PodWorker} per pod, pod
 * IPs handed out from 10.244.0.0/16 on the node's bridge (pod_network.ts), exec/attach/logs routed to the right container, and
 * shutdown that kills every pod process and removes every directory the kubelet made.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import {
  type ClusterStore,
  type ContainerProcess,
  type LogOptions,
  type PodRuntime,
  type ProcessRequest,
  RuntimeError,
} from "../contract.ts";
import type { ContainerSlot } from "./container_run.ts";
import { attachToContainer, execInContainer } from "./exec.ts";
import { findHostTools, type HostTools } from "./host_tools.ts";
import { ImageStore } from "./images.ts";
import { PodNetwork } from "./pod_network.ts";
import { PodWorker } from "./pod_worker.ts";
import type { NodeRegistry } from "./registry_pull.ts";

/** The node's address in pod statuses: a label, never contacted. */
export const HOST_IP = "10.0.0.10";

/** The local cluster's kubelet. */
export class Kubelet implements PodRuntime {
  #workers = new Map<string, PodWorker>();
  #images: ImageStore;
  #tools: HostTools;
  #network: Promise<PodNetwork> | undefined;
  #nextIP = 2;

  constructor(
    readonly store: ClusterStore,
    readonly stateDir: string,
    readonly registry?: NodeRegistry,
  ) {
    if (/[,:]/.test(stateDir)) {
      throw new Error(
        `The kubelet's state directory "${stateDir}" contains "," or ":", which overlayfs mount ` +
          "options cannot carry; choose another --state-dir.",
      );
    }
    this.#tools = findHostTools();
    this.#images = new ImageStore(`${stateDir}/images`, this.#tools, registry);
  }

  startPod(pod: V1Pod, options: { delayMs?: number } = {}): void {
    const key = podKey(pod.metadata?.namespace ?? "default", pod.metadata?.name ?? "");
    if (this.#workers.has(key)) return;
    const ip = this.#nextIP++;
    const podIP = `10.244.${(ip >> 8) & 255}.${ip & 255}`;
    const dir = `${this.stateDir}/pods/${pod.metadata?.uid ?? crypto.randomUUID()}`;
    const worker = new PodWorker(
      {
        store: this.store,
        images: this.#images,
        tools: this.#tools,
        network: () => this.#network ??= PodNetwork.create(this.#tools, this.registry),
      },
      pod,
      dir,
      podIP,
      HOST_IP,
    );
    this.#workers.set(key, worker);
    worker.start(options.delayMs);
  }

  addEphemeralContainers(pod: V1Pod): void {
    const { namespace = "default", name = "" } = pod.metadata ?? {};
    this.#workers.get(podKey(namespace, name))?.addEphemeral(pod);
  }

  async deletePod(namespace: string, name: string, gracePeriodSeconds: number): Promise<void> {
    const key = podKey(namespace, name);
    const worker = this.#workers.get(key);
    if (worker) {
      await worker.stop(gracePeriodSeconds);
      await worker.remove();
      if (this.#workers.get(key) === worker) this.#workers.delete(key);
    }
    this.store.removePod(namespace, name);
  }

  async evictPod(namespace: string, name: string, message: string): Promise<void> {
    await this.#worker(namespace, name).evict(message);
  }

  exec(request: ProcessRequest): Promise<ContainerProcess> {
    return Promise.resolve().then(() => {
      const { slot, name } = this.#slot(request);
      if (!slot.active) {
        throw new RuntimeError(
          500,
          `error executing command in container: container "${name}" in pod "${request.pod}" is not running`,
        );
      }
      return execInContainer(this.#tools, slot.active, request);
    });
  }

  attach(request: ProcessRequest): Promise<ContainerProcess> {
    return Promise.resolve().then(() => {
      const { slot, name } = this.#slot(request);
      if (!slot.active) {
        throw new RuntimeError(
          500,
          `error attaching to container: container "${name}" in pod "${request.pod}" is not running`,
        );
      }
      return attachToContainer(slot, slot.active, request);
    });
  }

  logs(
    namespace: string,
    pod: string,
    container: string,
    options: LogOptions,
  ): ReadableStream<Uint8Array> {
    const slot = this.#slot({ namespace, pod, container }).slot;
    const [previous, current] = slot.logs.length > 1 ? slot.logs : [undefined, slot.logs[0]];
    if (options.previous) {
      if (!previous) {
        throw new RuntimeError(
          400,
          `previous terminated container "${container}" in pod "${pod}" not found`,
        );
      }
      return previous.read(options);
    }
    // A container waiting after a crash still shows its last run, as kubelet does.
    const waiting = slot.record.state.waiting;
    if (!current || (waiting && slot.record.restartCount === 0 && !slot.record.lastState)) {
      const reason = waiting?.reason ?? "ContainerCreating";
      const why = reason === "ErrImagePull"
        ? "trying and failing to pull image"
        : reason === "ImagePullBackOff"
        ? "image can't be pulled"
        : reason;
      throw new RuntimeError(
        400,
        `container "${container}" in pod "${pod}" is waiting to start: ${why}`,
      );
    }
    return current.read(options);
  }

  async shutdown(): Promise<void> {
    const workers = [...this.#workers.values()];
    this.#workers.clear();
    await Promise.all(workers.map(async (worker) => {
      await worker.stop(0);
      await worker.remove();
    }));
    await (await this.#network?.catch(() => undefined))?.close();
    await Deno.remove(`${this.stateDir}/pods`, { recursive: true }).catch(() => {});
    await Deno.remove(`${this.stateDir}/images`, { recursive: true }).catch(() => {});
  }

  #worker(namespace: string, name: string): PodWorker {
    const worker = this.#workers.get(podKey(namespace, name));
    if (!worker) throw new RuntimeError(404, `pods "${name}" not found`);
    return worker;
  }

  #slot(
    request: { namespace: string; pod: string; container?: string },
  ): { slot: ContainerSlot; name: string } {
    const worker = this.#worker(request.namespace, request.pod);
    const name = request.container ??
      worker.pod.metadata?.annotations?.["kubectl.kubernetes.io/default-container"] ??
      worker.pod.spec?.containers?.[0]?.name ?? "";
    const slot = worker.slot(name);
    if (!slot) throw new RuntimeError(400, `container ${name} is not valid for pod ${request.pod}`);
    return { slot, name };
  }
}

function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
