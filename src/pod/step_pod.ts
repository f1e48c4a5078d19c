/**
 * A container step's own pod, for when it cannot run in the job pod (no job container, volume
 * mode, a private step image, or no permission for ephemeral containers). Copying, its init
 * container `kubehook-in` (from the runner image: it has `sh` and `tar`) holds the pod until
 * kubehook has streamed `<work>` into the shared volumes, then the action container `step` and
 * the keep-alive `kubehook` (for the copy back) start together. In volume mode the action mounts
 * the runner's work volume at its `/github/*` paths and nothing is copied. Nothing of kubehook's
 * runs in the action's image. Pure.
 *
 * @example
 * ```ts
 * const pod = renderStepPod({
 *   name: stepPodName("arc-x"), runnerPodName: "arc-x", action, helperImage: settings.runnerImage,
 *   workspacePath: "repo/repo", workspace: { mode: "copy" }, imagePullSecrets: [],
 * });
 * ```
 * @module
 */
import type {
  V1Container,
  V1EphemeralContainer,
  V1Pod,
  V1VolumeMount,
} from "@kubernetes/client-node";
import { CONTAINER_WORK } from "../runner/layout.ts";
import { actionDirectories, actionVolumes, jobActionMounts } from "./action_directories.ts";
import { WORK_VOLUME, workPlacement, type WorkspaceSource } from "./job_pod.ts";
import { KEEP_ALIVE_COMMAND } from "./keep_alive.ts";
import { jobPodName } from "./names.ts";
import { kubehookLabels } from "./metadata.ts";

/** The action's container in a step pod. */
export const STEP_CONTAINER = "step";
/** The init container the workspace is copied into. */
export const STEP_INIT_CONTAINER = "kubehook-in";
/** The container the step's changes are copied back from. */
export const STEP_HELPER_CONTAINER = "kubehook";
/** What the init container waits for: the whole `<work>` has arrived. */
export const STEP_READY_FILE = `${CONTAINER_WORK}/.kubehook/ready`;

/** What the step pod is made of. */
export interface StepPodInput {
  name: string;
  runnerPodName: string;
  /** The action container (renderActionContainer); its mounts are replaced here. */
  action: V1EphemeralContainer;
  /** An image with `sh` and `tar` for kubehook's own containers (the runner image). */
  helperImage: string;
  workspacePath: string;
  workspace: WorkspaceSource;
  imagePullSecrets: readonly string[];
  /** The job pod's services: the step reaches them on localhost through a forwarding sidecar. */
  services?: JobServices;
}

/** Where the job's services listen: the job pod's IP and their TCP ports, and their names. */
export interface JobServices {
  podIP: string;
  ports: number[];
  /** The services' container names: in the step pod they name its loopback, where the
   * forwarder listens, as in the job pod. */
  names: string[];
}

/** The node that the runner image brings in its externals (the job pod's `/__e` has it too). */
const RUNNER_NODE = "/home/runner/externals/node20/bin/node";

/** Forwards each port on the step pod's loopback (IPv4 and IPv6) to the job pod: the step then
 * reaches `localhost:<port>` as the job container does. */
const FORWARDER = `const net = require("node:net");
const [host, ...ports] = process.argv.slice(1);
for (const port of ports.map(Number)) {
  for (const local of ["127.0.0.1", "::1"]) {
    net.createServer((client) => {
      const service = net.connect(port, host);
      const close = () => { client.destroy(); service.destroy(); };
      client.on("error", close);
      service.on("error", close);
      client.pipe(service).pipe(client);
    }).on("error", () => {}).listen(port, local);
  }
}`;

/** The sidecar that forwards the job's services (a native sidecar: it runs from before the copy
 * until the step is done). */
export const STEP_SERVICES_CONTAINER = "kubehook-services";

/** Renders the step pod. */
export function renderStepPod(input: StepPodInput): V1Pod {
  const copying = input.workspace.mode === "copy";
  const { targetContainerName: _, ...action } = input.action;
  const step: V1Container = {
    ...action,
    name: STEP_CONTAINER,
    volumeMounts: copying ? action.volumeMounts : claimMounts(input.workspacePath),
  };
  const helperMounts: V1VolumeMount[] = [
    { name: WORK_VOLUME, mountPath: CONTAINER_WORK },
    ...jobActionMounts(input.workspacePath),
  ];
  const initContainers: V1Container[] = [];
  if (input.services && input.services.ports.length > 0) {
    initContainers.push({
      name: STEP_SERVICES_CONTAINER,
      image: input.helperImage,
      restartPolicy: "Always",
      command: [
        RUNNER_NODE,
        "-e",
        FORWARDER,
        input.services.podIP,
        ...input.services.ports.map(String),
      ],
    });
  }
  if (copying) {
    initContainers.push({
      name: STEP_INIT_CONTAINER,
      image: input.helperImage,
      command: ["sh", "-c", `until [ -e "$1" ]; do sleep 0.05; done`, "kubehook", STEP_READY_FILE],
      volumeMounts: helperMounts,
    });
  }
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: input.name,
      labels: kubehookLabels(input.runnerPodName, jobPodName(input.runnerPodName)),
    },
    spec: {
      restartPolicy: "Never",
      enableServiceLinks: false,
      ...(input.services && input.services.ports.length > 0 && input.services.names.length > 0
        ? { hostAliases: [{ ip: "127.0.0.1", hostnames: [...input.services.names] }] }
        : {}),
      ...(input.imagePullSecrets.length > 0
        ? { imagePullSecrets: input.imagePullSecrets.map((name) => ({ name })) }
        : {}),
      ...(input.services && input.services.ports.some((p) => p < 1024)
        ? {
          // A safe sysctl: lets the forwarder (the runner image's non-root user) bind ports < 1024.
          securityContext: {
            sysctls: [{ name: "net.ipv4.ip_unprivileged_port_start", value: "0" }],
          },
        }
        : {}),
      ...(initContainers.length > 0 ? { initContainers } : {}),
      containers: [
        step,
        ...(copying
          ? [{
            name: STEP_HELPER_CONTAINER,
            image: input.helperImage,
            command: [...KEEP_ALIVE_COMMAND],
            volumeMounts: helperMounts,
          }]
          : []),
      ],
      volumes: input.workspace.mode === "copy"
        ? [{ name: WORK_VOLUME, emptyDir: {} }, ...actionVolumes(input.workspacePath)]
        : [{
          name: WORK_VOLUME,
          persistentVolumeClaim: { claimName: input.workspace.claimName },
        }],
      ...workPlacement(input.workspace),
    },
  };
}

/** Volume mode: the action sees the work volume's directories through subPaths. */
function claimMounts(workspacePath: string): V1VolumeMount[] {
  return actionDirectories(workspacePath).map((d) => ({
    name: WORK_VOLUME,
    mountPath: d.action,
    subPath: d.work,
  }));
}
