/**
 * The job pod prepare_job creates: the job container (named `job`) and every service in one pod, so
 * steps reach services on localhost; runner externals at `/__e` copied from the runner image by a
 * container beside them (externals.ts); `/__w`, `/github/home` and `/github/workflow` laid out as the runner
 * expects (protocol §4), with the directories container actions see in volumes of their own
 * (action_directories.ts), so a container step can run in this pod. Pure: {@link renderJobPod} returns the object, the hook creates it and
 * `kubehook render` prints it.
 *
 * @example
 * ```ts
 * const pod = renderJobPod({
 *   name: "arc-x-workflow", runnerPodName: "arc-x", container: invocation.args.container,
 *   services: invocation.args.services, serviceNames: serviceContainerNames(["redis:7"]),
 *   imagePullSecrets: [], runnerImage: settings.runnerImage, workspace: { mode: "copy" },
 *   workspacePath: "repo/repo",
 * });
 * ```
 * @module
 */
import type {
  V1Container,
  V1EnvVar,
  V1Pod,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import type { Container } from "../runner/input.ts";
import {
  CONTAINER_EXTERNALS,
  CONTAINER_GITHUB_HOME,
  CONTAINER_GITHUB_WORKFLOW,
  CONTAINER_WORK,
} from "../runner/layout.ts";
import { escapeExpansion } from "./action_container.ts";
import { actionVolumes, jobActionMounts } from "./action_directories.ts";
import { EXTERNALS_VOLUME, externalsContainer } from "./externals.ts";
import { KEEP_ALIVE_COMMAND } from "./keep_alive.ts";
import { kubehookLabels, runnerOwnerReference } from "./metadata.ts";
import { JOB_CONTAINER_NAME } from "./names.ts";
import { containerPorts } from "./ports.ts";

/** The volume holding `<work>` (`/__w`). */
export const WORK_VOLUME = "work";
/** Where the job pod's `/__w` comes from. */
export type WorkspaceSource =
  | { mode: "copy" }
  | {
    mode: "volume";
    /** The runner's work PVC (its root is `<work>`). */
    claimName: string;
    /** The runner pod's node: a ReadWriteOnce volume is only usable there. */
    runnerNodeName?: string;
    /** Let the scheduler place the pod anywhere (the volume must then be ReadWriteMany). */
    useKubeScheduler: boolean;
  };

/** Everything the job pod depends on. */
export interface JobPodInput {
  /** The pod's name (see `jobPodName`). */
  name: string;
  runnerPodName: string;
  /** The runner pod's uid, when it was found in the namespace: makes it the pod's owner. */
  runnerPodUid?: string;
  /** The job container, or null for a job with services only. */
  container: Container | null;
  services: readonly Container[];
  /** Container names of the services, in input order (see `serviceContainerNames`). */
  serviceNames: readonly string[];
  /** Names of the registry secrets the hook creates for the job container and the services. */
  imagePullSecrets: readonly string[];
  /** Image providing `/home/runner/externals` (ACTIONS_RUNNER_IMAGE). */
  runnerImage: string;
  workspace: WorkspaceSource;
  /** GITHUB_WORKSPACE relative to `<work>`: `<repo>/<repo>`. */
  workspacePath: string;
}

/** Renders the job pod. No user or group IDs are set: the images decide, and a pod template adds a
 * securityContext when the cluster requires one. */
export function renderJobPod(input: JobPodInput): V1Pod {
  if (input.serviceNames.length !== input.services.length) {
    throw new Error(
      `renderJobPod got ${input.serviceNames.length} service names for ${input.services.length} services.`,
    );
  }
  const containers: V1Container[] = [];
  if (input.container) {
    containers.push(jobContainer(input.container, jobMounts(input.workspace, input.workspacePath)));
  }
  input.services.forEach((service, i) =>
    containers.push(serviceContainer(service, input.serviceNames[i]))
  );
  if (containers.length === 0) {
    throw new Error(
      "The job has neither a job container nor services: there is no job pod to create.",
    );
  }
  const pod: V1Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: input.name,
      labels: kubehookLabels(input.runnerPodName, input.name),
      annotations: {},
      ...(input.runnerPodUid
        ? { ownerReferences: [runnerOwnerReference(input.runnerPodName, input.runnerPodUid)] }
        : {}),
    },
    spec: {
      restartPolicy: "Never",
      // Docker mode has no service-link variables; they would only add noise to every step's env.
      enableServiceLinks: false,
      containers,
      ...(input.serviceNames.length > 0
        ? {
          // Docker mode reaches a service by name on the job's network; here every container
          // shares the pod's network, so each service's name is the pod's own address.
          hostAliases: [{ ip: "127.0.0.1", hostnames: [...input.serviceNames] }],
        }
        : {}),
      ...(input.imagePullSecrets.length > 0
        ? { imagePullSecrets: input.imagePullSecrets.map((name) => ({ name })) }
        : {}),
    },
  };
  // Only the job container uses the workspace and externals; a services-only pod needs neither.
  // The externals container comes last: the kubelet starts containers in order, the job's own first.
  if (input.container) {
    containers.push(externalsContainer(input.runnerImage));
    pod.spec!.volumes = [
      workVolume(input.workspace),
      { name: EXTERNALS_VOLUME, emptyDir: {} },
      ...(input.workspace.mode === "copy" ? actionVolumes(input.workspacePath) : []),
    ];
    Object.assign(pod.spec!, workPlacement(input.workspace));
  }
  return pod;
}

function jobContainer(container: Container, volumeMounts: V1VolumeMount[]): V1Container {
  const command = container.entryPoint
    ? { command: [container.entryPoint], args: [...container.entryPointArgs] }
    : { command: [...KEEP_ALIVE_COMMAND] };
  // The working directory matters only to a workflow's own entrypoint: steps `cd` themselves.
  // Setting it for kubehook's keep-alive would make the runtime create it (as root) before the
  // workspace is copied in, and a non-root container user could then not extract into it.
  const workingDir = container.entryPoint && container.workingDirectory
    ? { workingDir: container.workingDirectory }
    : {};
  return {
    name: JOB_CONTAINER_NAME,
    image: requireImage(container, "job container"),
    ...command,
    ...workingDir,
    env: envList({
      HOME: CONTAINER_GITHUB_HOME,
      CI: "true",
      GITHUB_ACTIONS: "true",
      ...container.environmentVariables,
    }),
    ports: containerPorts(container.portMappings, `job container ${container.image}`),
    volumeMounts,
  };
}

function serviceContainer(service: Container, name: string): V1Container {
  // Like `docker run`: the image's command stays unless the workflow overrides it.
  const command = service.entryPoint ? { command: [service.entryPoint] } : {};
  const args = service.entryPointArgs.length > 0 ? { args: [...service.entryPointArgs] } : {};
  return {
    name,
    image: requireImage(service, `service ${name}`),
    ...command,
    ...args,
    ...(service.workingDirectory ? { workingDir: service.workingDirectory } : {}),
    // As upstream's services get them: a service's entrypoint may ask whether it runs in CI.
    env: envList({ CI: "true", GITHUB_ACTIONS: "true", ...service.environmentVariables }),
    ports: containerPorts(service.portMappings, `service ${name} (${service.image})`),
  };
}

/** Volume mode: parts of the work volume mounted a second time, where the runner's Docker mode
 * mounts them. */
const WORK_SUBPATHS = {
  [CONTAINER_GITHUB_HOME]: "_temp/_github_home",
  [CONTAINER_GITHUB_WORKFLOW]: "_temp/_github_workflow",
};

/** `/__w` and `/__e`; then, copying, the shared directories in their own volumes, or in volume
 * mode the work volume's subPaths. */
function jobMounts(source: WorkspaceSource, workspacePath: string): V1VolumeMount[] {
  return [
    { name: WORK_VOLUME, mountPath: CONTAINER_WORK },
    { name: EXTERNALS_VOLUME, mountPath: CONTAINER_EXTERNALS, readOnly: true },
    ...(source.mode === "copy"
      ? jobActionMounts(workspacePath)
      : Object.entries(WORK_SUBPATHS).map(([mountPath, subPath]) => ({
        name: WORK_VOLUME,
        mountPath,
        subPath,
      }))),
  ];
}

function workVolume(source: WorkspaceSource): V1Volume {
  return source.mode === "copy"
    ? { name: WORK_VOLUME, emptyDir: {} }
    : { name: WORK_VOLUME, persistentVolumeClaim: { claimName: source.claimName } };
}

/** Volume mode without the scheduler's freedom: require the runner's node, where a ReadWriteOnce
 * work volume is attached. Affinity (not `nodeName`) keeps the scheduler's resource checks and its
 * "why unschedulable" events. */
export function workPlacement(source: WorkspaceSource): Partial<NonNullable<V1Pod["spec"]>> {
  if (source.mode === "copy" || source.useKubeScheduler) return {};
  if (!source.runnerNodeName) {
    throw new Error(
      `Volume mode needs the runner pod's node to place the job pod next to the work volume ` +
        `${source.claimName}, and it is unknown. Make the runner pod readable (pods get), or set ` +
        "ACTIONS_RUNNER_USE_KUBE_SCHEDULER=true with a ReadWriteMany volume.",
    );
  }
  return {
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{
            matchFields: [{
              key: "metadata.name",
              operator: "In",
              values: [source.runnerNodeName],
            }],
          }],
        },
      },
    },
  };
}

/** Values escaped: the kubelet would expand `$(NAME)` and turn `$$` into `$`, which docker does
 * not. */
function envList(vars: Record<string, string>): V1EnvVar[] {
  return Object.entries(vars).map(([name, value]) => ({ name, value: escapeExpansion(value) }));
}

function requireImage(container: Container, what: string): string {
  if (!container.image) {
    throw new Error(`The ${what} has no image; a job pod can only run images, not Dockerfiles.`);
  }
  return container.image;
}
