/**
 * One pod's life on the node: status Pending with containers ContainerCreating (PodInitializing
 * behind init containers), the sandbox, the volumes (FailedMount and retry while e.g. a secret is
 * missing), init containers one after another (a failure fails the pod under restartPolicy Never,
 * else is retried with back-off), then every container at once, restarted per restartPolicy with
 * kubelet's back-off (the first restart is immediate, then CrashLoopBackOff 10 s, 20 s, ... 5 min).
 * Init containers with `restartPolicy: Always` are native sidecars: each starts in turn, the next
 * init container follows once it runs, it keeps running (restarted as `Always` says) beside the
 * containers and is stopped when they are done. Ephemeral containers added later run once each, as soon as the pod's init containers are
 * done, never restarted and never part of the pod's phase; one naming a `targetContainerName`
 * joins that container's process namespace.
 * Stopping (deletion, eviction) sends SIGTERM, then SIGKILL after the grace period.
 *
 * @module
 */
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import type { ClusterStore } from "../contract.ts";
import type { HostTools } from "./host_tools.ts";
import type { ImageStore } from "./images.ts";
import { type ContainerSlot, runContainer, type RunPlace } from "./container_run.ts";
import { backOffSeconds, type PodContext, podKey, sleep } from "./pod_context.ts";
import { type PodRecord, podStatus, timestamp } from "./pod_status.ts";
import type { PodNetwork } from "./pod_network.ts";
import { PodSandbox } from "./sandbox.ts";
import { preparePodVolumes, VolumeError } from "./volumes.ts";

/** The kubelet services a pod needs. */
export interface NodeServices {
  store: ClusterStore;
  images: ImageStore;
  tools: HostTools;
  /** The node's pod network (made on first use). */
  network: () => Promise<PodNetwork>;
}

/** Runs one pod and answers for its containers. */
export class PodWorker {
  readonly record: PodRecord;
  readonly initSlots: ContainerSlot[];
  readonly slots: ContainerSlot[];
  readonly ephemeralSlots: ContainerSlot[] = [];
  #stop = new AbortController();
  /** Aborted when the containers are done: sidecars are not restarted any more. */
  #sidecarsDone = new AbortController();
  /** Where containers run, once the sandbox and volumes are ready and init containers are done. */
  #place: RunPlace | undefined;
  #ephemeralRuns: Promise<unknown>[] = [];
  #context: PodContext;
  #network: () => Promise<PodNetwork>;
  #sandbox: PodSandbox | undefined;
  #lifecycle: Promise<void> = Promise.resolve();

  constructor(
    node: NodeServices,
    readonly pod: V1Pod,
    readonly dir: string,
    podIP: string,
    hostIP: string,
  ) {
    const initial = (reason: string) => (c: V1Container) => ({
      spec: c,
      record: {
        name: c.name,
        image: c.image ?? "",
        state: { waiting: { reason } },
        restartCount: 0,
        ...(c.restartPolicy === "Always" ? { sidecar: true } : {}),
      },
      logs: [],
    });
    const inits = pod.spec?.initContainers ?? [];
    this.initSlots = inits.map(initial("PodInitializing"));
    this.slots = (pod.spec?.containers ?? []).map(
      initial(inits.length > 0 ? "PodInitializing" : "ContainerCreating"),
    );
    this.record = {
      pod,
      initContainers: this.initSlots.map((s) => s.record),
      containers: this.slots.map((s) => s.record),
      ephemeralContainers: [],
      podIP,
      hostIP,
      startTime: timestamp(),
      sandboxReady: false,
    };
    const { namespace = "default", name = "" } = pod.metadata ?? {};
    this.#network = node.network;
    this.#context = {
      store: node.store,
      images: node.images,
      tools: node.tools,
      pod,
      signal: this.#stop.signal,
      publish: () =>
        node.store.updatePodStatus(namespace, name, (old) => podStatus(this.record, old)),
      event: (type, reason, message, container) =>
        node.store.recordEvent(pod, type, reason, message, container && this.#fieldPath(container)),
    };
  }

  /** Starts the pod's lifecycle in the background. */
  start(delayMs = 0): void {
    this.#lifecycle = this.#run(delayMs).catch((error) => {
      // A kubelet bug must not take the cluster down; it shows on the pod instead.
      this.#context.event(
        "Warning",
        "FailedCreatePodSandBox",
        `Failed to run the pod: ${error?.message ?? error}`,
      );
    });
  }

  /** The slot of `name` among containers, init containers and ephemeral containers. */
  slot(name: string): ContainerSlot | undefined {
    return this.#allSlots().find((s) => s.spec.name === name);
  }

  /** Takes the ephemeral containers of `pod` that are new and runs each once the pod runs. */
  addEphemeral(pod: V1Pod): void {
    for (const spec of pod.spec?.ephemeralContainers ?? []) {
      if (this.ephemeralSlots.some((s) => s.spec.name === spec.name)) continue;
      const slot: ContainerSlot = {
        spec: spec as V1Container,
        record: {
          name: spec.name,
          image: spec.image ?? "",
          state: { waiting: { reason: "ContainerCreating" } },
          restartCount: 0,
        },
        logs: [],
        targetContainerName: spec.targetContainerName,
      };
      this.ephemeralSlots.push(slot);
      this.record.ephemeralContainers.push(slot.record);
      if (this.#place) this.#runEphemeral(slot, this.#place);
    }
    this.#context.publish();
  }

  #runEphemeral(slot: ContainerSlot, place: RunPlace): void {
    const target = slot.targetContainerName
      ? this.slots.find((s) => s.spec.name === slot.targetContainerName)
      : undefined;
    this.#ephemeralRuns.push(
      runContainer(this.#context, slot, { ...place, pidOf: target?.active?.handle.pid }),
    );
  }

  /** How kubelet names a container in an event: by the list of the spec it is in. */
  #fieldPath(container: string): string {
    const list = this.slots.some((s) => s.spec.name === container)
      ? "containers"
      : this.initSlots.some((s) => s.spec.name === container)
      ? "initContainers"
      : "ephemeralContainers";
    return `spec.${list}{${container}}`;
  }

  #allSlots(): ContainerSlot[] {
    return [...this.slots, ...this.initSlots, ...this.ephemeralSlots];
  }

  /** Stops every container: SIGTERM, SIGKILL after `graceSeconds`; resolves when all are gone. */
  async stop(graceSeconds: number): Promise<void> {
    this.#stop.abort();
    const running = this.#allSlots().filter((s) => s.active);
    for (const slot of running) {
      this.#context.event("Normal", "Killing", `Stopping container ${slot.spec.name}`);
      slot.active!.handle.signal(graceSeconds > 0 ? "SIGTERM" : "SIGKILL");
    }
    const exits = Promise.all(running.map((s) => s.active?.handle.exitCode));
    const killer = new AbortController();
    const grace = sleep(graceSeconds * 1000, killer.signal).then((elapsed) => {
      if (elapsed) { for (const slot of running) slot.active?.handle.signal("SIGKILL"); }
    });
    await exits;
    killer.abort();
    await grace;
    await this.#lifecycle;
    await Promise.allSettled(this.#ephemeralRuns);
    await this.#sandbox?.release();
  }

  /** Kills the containers and marks the pod Failed with reason Evicted. */
  async evict(message: string): Promise<void> {
    this.record.terminal = { phase: "Failed", reason: "Evicted", message };
    this.#context.event("Warning", "Evicted", message);
    await this.stop(0);
    this.#context.publish();
  }

  /** Removes the sandbox directory (after {@link stop}). */
  async remove(): Promise<void> {
    for (const slot of this.#allSlots()) {
      for (const log of slot.logs) await log.close();
    }
    await (this.#sandbox?.remove() ?? Deno.remove(this.dir, { recursive: true }).catch(() => {}));
  }

  async #run(delayMs: number): Promise<void> {
    const context = this.#context;
    context.publish();
    if (delayMs > 0 && !await sleep(delayMs, context.signal)) return;
    this.#sandbox = await PodSandbox.create(
      context.tools,
      await this.#network(),
      this.dir,
      this.pod,
      this.record.podIP,
    );
    this.record.sandboxReady = true;
    context.publish();
    const place = await this.#volumes(this.#sandbox);
    if (!place) return;
    const sidecars: Promise<void>[] = [];
    for (const slot of this.initSlots) {
      if (slot.record.sidecar) {
        sidecars.push(this.#runSidecar(slot, place));
        // The next init container starts once the sidecar runs (kubelet: once it "started").
        while (!slot.active && !slot.record.state.terminated && !this.#stop.signal.aborted) {
          await sleep(10, this.#stop.signal);
        }
      } else if (!await this.#runInit(slot, place)) return await this.#finish();
    }
    this.#place = place;
    const mains = Promise.all(this.slots.map((slot) => this.#runMain(slot, place)));
    for (const slot of this.ephemeralSlots) this.#runEphemeral(slot, place);
    await mains;
    this.#place = undefined;
    // The containers are done: the kubelet stops the sidecars.
    this.#sidecarsDone.abort();
    for (const slot of this.initSlots) {
      if (slot.record.sidecar) slot.active?.handle.signal("SIGTERM");
    }
    await Promise.all(sidecars);
    // The pod is done: the kubelet kills what is left of its ephemeral containers.
    for (const slot of this.ephemeralSlots) slot.active?.handle.signal("SIGKILL");
    await Promise.allSettled(this.#ephemeralRuns);
    await this.#finish();
  }

  async #volumes(sandbox: PodSandbox): Promise<RunPlace | undefined> {
    for (let attempt = 0; !this.#stop.signal.aborted; attempt++) {
      try {
        const volumes = await preparePodVolumes(
          this.pod,
          `${sandbox.dir}/volumes`,
          this.#context.store,
        );
        return { sandbox, volumes, podIP: this.record.podIP, hostIP: this.record.hostIP };
      } catch (error) {
        if (!(error instanceof VolumeError)) throw error;
        this.#context.event("Warning", "FailedMount", error.message);
        if (!await sleep(Math.min(2 ** attempt, 30) * 1000, this.#stop.signal)) return undefined;
      }
    }
    return undefined;
  }

  /** Runs a sidecar, restarting it, until the containers are done or the pod stops. */
  async #runSidecar(slot: ContainerSlot, place: RunPlace): Promise<void> {
    while (!this.#stop.signal.aborted && !this.#sidecarsDone.signal.aborted) {
      const code = await runContainer(this.#context, slot, place);
      if (code === undefined || this.#sidecarsDone.signal.aborted) return;
      if (!await this.#backOff(slot)) return;
    }
  }

  /** Runs an init container to success; false when the pod failed or was stopped. */
  async #runInit(slot: ContainerSlot, place: RunPlace): Promise<boolean> {
    while (true) {
      const code = await runContainer(this.#context, slot, place);
      if (code === undefined || this.#stop.signal.aborted) return false;
      if (code === 0) return true;
      if (this.pod.spec?.restartPolicy === "Never") return false;
      if (!await this.#backOff(slot)) return false;
    }
  }

  async #runMain(slot: ContainerSlot, place: RunPlace): Promise<void> {
    const policy = this.pod.spec?.restartPolicy ?? "Always";
    while (true) {
      const code = await runContainer(this.#context, slot, place);
      if (code === undefined || this.#stop.signal.aborted) return;
      if (policy === "Never" || (policy === "OnFailure" && code === 0)) return;
      if (!await this.#backOff(slot)) return;
    }
  }

  /** Waits before a restart (none before the first); false when the pod was stopped meanwhile. */
  async #backOff(slot: ContainerSlot): Promise<boolean> {
    const { record } = slot;
    record.lastState = { terminated: record.state.terminated };
    if (record.restartCount > 0) {
      const seconds = backOffSeconds(record.restartCount - 1);
      const message = `back-off ${seconds}s restarting failed container=${slot.spec.name} pod=${
        podKey(this.pod)
      }`;
      record.state = { waiting: { reason: "CrashLoopBackOff", message } };
      this.#context.event(
        "Warning",
        "BackOff",
        `Back-off restarting failed container ${slot.spec.name} in pod ${podKey(this.pod)}`,
      );
      this.#context.publish();
      if (!await sleep(seconds * 1000, this.#stop.signal)) return false;
    }
    record.restartCount++;
    return true;
  }

  /** Every container is done for good: the network namespace goes, logs stay. */
  async #finish(): Promise<void> {
    await this.#sandbox?.release();
    this.record.sandboxReady = false;
    this.#context.publish();
  }
}
