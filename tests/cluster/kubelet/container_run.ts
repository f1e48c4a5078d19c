/**
 * One run of one container, from image pull to exit, with kubelet's states and events: the pull
 * (see image_pull.ts), the config (env, command, user, mounts; CreateContainerConfigError with
 * back-off while a referenced secret is missing), `Created`, the process start (StartError when
 * the runtime refuses), `Started`, the running state, the log of this run, and the terminated
 * state (Completed or Error) when the process exits.
 *
 * @module
 */
import type { V1Container, V1Secret } from "@kubernetes/client-node";
import { containerCapabilities } from "./capabilities.ts";
import { containerArgv, ContainerConfigError, processEnv, specEnv } from "./container_env.ts";
import { ContainerLog } from "./container_log.ts";
import {
  type ContainerLaunch,
  type ContainerProcessHandle,
  startContainerProcess,
  StartError,
} from "./container_process.ts";
import { containerIdentity, type Identity } from "./identity.ts";
import { pullImage } from "./image_pull.ts";
import { probeReadiness } from "./probes.ts";
import type { PulledImage } from "./images.ts";
import { backOffSeconds, type PodContext, sleep } from "./pod_context.ts";
import { type ContainerRecord, timestamp } from "./pod_status.ts";
import { resolveInRoot } from "./root_paths.ts";
import type { PodSandbox } from "./sandbox.ts";
import { containerBinds, type PodVolume } from "./volumes.ts";

/** A container of the pod, across its runs. */
export interface ContainerSlot {
  spec: V1Container;
  record: ContainerRecord;
  /** The live process of the current run, and what exec needs to join it. */
  active?: ActiveRun;
  /** Logs of the previous and the current (or last) run. */
  logs: ContainerLog[];
  /** An ephemeral container's target: it joins that container's process namespace. */
  targetContainerName?: string;
}

/** A running container process and the context exec reuses. */
export interface ActiveRun {
  handle: ContainerProcessHandle;
  env: ReadonlyMap<string, string>;
  workingDir: string;
  identity: Identity;
  log: ContainerLog;
}

/** Where this run keeps its files. */
export interface RunPlace {
  sandbox: PodSandbox;
  volumes: ReadonlyMap<string, PodVolume>;
  podIP: string;
  hostIP: string;
  /** PID of a process whose PID namespace the container joins (an ephemeral container's
   * target); its own namespace otherwise. */
  pidOf?: number;
}

/** Runs `slot` once; resolves its exit code, or undefined when the pod was stopped before it ran. */
export async function runContainer(
  context: PodContext,
  slot: ContainerSlot,
  place: RunPlace,
): Promise<number | undefined> {
  const { record, spec } = slot;
  const image = await pullImage(context, spec, record);
  if (!image) return undefined;
  let launch: ContainerLaunch | undefined;
  for (let attempt = 0; !launch; attempt++) {
    try {
      launch = await prepare(
        context,
        spec,
        image,
        place,
        `${place.sandbox.dir}/runs/${spec.name}-${record.restartCount}`,
      );
    } catch (error) {
      if (!(error instanceof ContainerConfigError)) throw error;
      context.event("Warning", "Failed", `Error: ${error.message}`, spec.name);
      record.state = { waiting: { reason: "CreateContainerConfigError", message: error.message } };
      context.publish();
      if (!await sleep(backOffSeconds(attempt) * 1000, context.signal)) return undefined;
    }
  }
  if (context.signal.aborted) return undefined;
  const log = await ContainerLog.create(
    `${place.sandbox.dir}/logs/${spec.name}-${record.restartCount}.log`,
  );
  for (const old of slot.logs.splice(0, slot.logs.length - 1)) await old.remove();
  slot.logs.push(log);
  context.event("Normal", "Created", `Created container: ${spec.name}`, spec.name);
  const startedAt = timestamp();
  let handle: ContainerProcessHandle;
  try {
    handle = await startContainerProcess(launch);
  } catch (error) {
    if (!(error instanceof StartError)) throw error;
    await log.close();
    context.event("Warning", "Failed", `Error: ${error.message}`, spec.name);
    record.state = {
      terminated: {
        exitCode: 128,
        reason: "StartError",
        message: error.message,
        startedAt: "1970-01-01T00:00:00Z" as unknown as Date,
        finishedAt: timestamp() as unknown as Date,
      },
    };
    context.publish();
    return 128;
  }
  const containerID = `containerd://${randomHex(32)}`;
  record.containerID = containerID;
  slot.active = {
    handle,
    env: launch.env,
    workingDir: launch.workingDir,
    identity: launch.identity,
    log,
  };
  // Deleted while starting: the new process must not outlive the pod.
  if (context.signal.aborted) handle.signal("SIGKILL");
  context.event("Normal", "Started", `Started container ${spec.name}`, spec.name);
  record.state = { running: { startedAt: startedAt as unknown as Date } };
  record.ready = false;
  context.publish();
  const pumps = Promise.all([
    pump(handle.stdout, log, "stdout"),
    pump(handle.stderr, log, "stderr"),
    probeReadiness(context, slot, slot.active),
  ]);
  const exitCode = await handle.exitCode;
  await pumps;
  record.ready = false;
  await log.close();
  slot.active = undefined;
  record.state = {
    terminated: {
      exitCode,
      reason: exitCode === 0 ? "Completed" : "Error",
      startedAt: startedAt as unknown as Date,
      finishedAt: timestamp() as unknown as Date,
      containerID,
    },
  };
  context.publish();
  await Deno.remove(launch.runDir, { recursive: true }).catch(() => {});
  return exitCode;
}

async function prepare(
  context: PodContext,
  spec: V1Container,
  image: PulledImage,
  place: RunPlace,
  runDir: string,
): Promise<ContainerLaunch> {
  const { pod, store } = context;
  const namespace = pod.metadata?.namespace ?? "default";
  const vars = specEnv(pod, spec, {
    secret: (name) => store.get<V1Secret>("secrets", namespace, name),
    podIP: place.podIP,
    hostIP: place.hostIP,
  });
  const read = (path: string) => {
    const host = resolveInRoot(image.layers, path);
    try {
      return host ? Deno.readTextFileSync(host) : "";
    } catch {
      return "";
    }
  };
  const accounts = { passwd: read("/etc/passwd"), group: read("/etc/group") };
  const identity = containerIdentity(pod, spec, image.config.user, accounts);
  const home =
    accounts.passwd.split("\n").map((l) => l.split(":")).find((f) => f[2] === String(identity.uid))
      ?.[5] ??
      (identity.uid === 0 ? "/root" : "/");
  const hostname = pod.spec?.hostname ?? pod.metadata?.name ?? "pod";
  await Deno.mkdir(`${place.sandbox.dir}/logs`, { recursive: true });
  return {
    tools: context.tools,
    netns: place.sandbox.netns,
    hostname,
    layers: image.layers,
    runDir,
    binds: await containerBinds(spec, place.volumes, vars),
    hostsFile: place.sandbox.hostsFile,
    resolvFile: place.sandbox.resolvFile,
    env: processEnv(image.config, vars, { hostname, home }),
    argv: containerArgv(spec, image.config, vars),
    ...(place.pidOf ? { pidNamespace: `/proc/${place.pidOf}/ns/pid` } : {}),
    workingDir: spec.workingDir || image.config.workingDir || "/",
    identity,
    stdin: spec.stdin === true,
    capabilities: containerCapabilities(spec.securityContext),
    readOnlyRoot: spec.securityContext?.readOnlyRootFilesystem === true,
  };
}

async function pump(
  stream: ReadableStream<Uint8Array>,
  log: ContainerLog,
  name: "stdout" | "stderr",
): Promise<void> {
  for await (const chunk of stream) log.write(chunk, name);
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}
