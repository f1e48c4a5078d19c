/**
 * What a container step creates, decided without a cluster: where it runs (as an ephemeral
 * container of the job pod, or in a pod of its own, and why), the Secret its environment travels
 * in, and the container or pod itself. run_container_step carries the plan out; `kubehook
 * render` prints it.
 *
 * @example
 * ```ts
 * const plan = planContainerStep({
 *   step, settings, workspacePath: "repo/repo", jobPod: { name: "arc-x-workflow", hasJobContainer: true },
 * });
 * plan.placement; // "job-pod"
 * ```
 * @module
 */
import type {
  V1Container,
  V1EnvVar,
  V1EphemeralContainer,
  V1Pod,
  V1Secret,
} from "@kubernetes/client-node";
import type { Container } from "../runner/input.ts";
import type { Settings } from "../runner/settings.ts";
import { actionEnvironment, renderActionContainer } from "./action_container.ts";
import { applyDockerOptions } from "./apply_options.ts";
import { type DockerOptionsContext, parseDockerOptions } from "./docker_options.ts";
import { renderEnvSecret } from "./env_secret.ts";
import { JOB_CONTAINER_NAME, jobPodName, randomSuffix, secretName, stepPodName } from "./names.ts";
import { kubehookLabels } from "./metadata.ts";
import { restrictContainer, restrictPod } from "./pod_security.ts";
import { renderRegistrySecret } from "./registry_secret.ts";
import { type JobServices, renderStepPod, STEP_CONTAINER } from "./step_pod.ts";

/** What the plan depends on. */
export interface ContainerStepInput {
  step: Container;
  settings: Settings;
  /** GITHUB_WORKSPACE relative to `<work>`. */
  workspacePath: string;
  /** The job pod prepare_job made, if any. */
  jobPod?: { name: string; hasJobContainer: boolean };
  /** Volume mode: the runner pod's node, where a ReadWriteOnce work volume is attached. */
  runnerNodeName?: string;
  /** For the step's `options` (`-e NAME`, `--env-file`). */
  optionsContext?: DockerOptionsContext;
  /** An existing pull secret for the step's image (a Dockerfile action's build registry). */
  pullSecret?: string;
}

/** A container step's objects. */
export interface ContainerStepPlan {
  /** Where it runs first; "own-pod" is also where a "job-pod" step goes when the Role does not
   * allow ephemeral containers. */
  placement: "job-pod" | "own-pod";
  /** Why a pod of its own, when it gets one. */
  ownPodReason?: string;
  /** What the step's options could not do, one sentence each. */
  warnings: string[];
  /** The Secret holding the environment (created before, deleted after the step). */
  envSecret: V1Secret;
  /** Variables whose names a Secret cannot hold, inline in the container. */
  inlineEnv: V1EnvVar[];
  /** The ephemeral container to add to the job pod. */
  ephemeral: V1EphemeralContainer;
  /** The pod of its own, and the pull secret it needs for a private image; with the job pod's
   * services, forwarded to its localhost. */
  ownPod(services?: JobServices): { pod: V1Pod; registrySecret?: V1Secret };
}

/** Plans the step. */
export function planContainerStep(input: ContainerStepInput): ContainerStepPlan {
  const { step, settings } = input;
  const runner = settings.runnerPodName;
  const labels = kubehookLabels(runner, jobPodName(runner));
  const envName = secretName(runner);
  const options = parseDockerOptions(step.createOptions, "step", input.optionsContext);
  // The step's own variables win over its options' `-e`, as for the job container.
  const { secretData, inline } = actionEnvironment({
    ...options.env,
    ...step.environmentVariables,
  });
  options.env = {};
  const ownPodReason = !input.jobPod?.hasJobContainer
    ? "the job has no job container"
    : settings.workspace !== "copy"
    ? "the workspace is a volume (ephemeral containers cannot mount its subPaths)"
    : step.registry || input.pullSecret
    ? "its image is private (a running pod cannot take new pull secrets)"
    : options.resources
    ? "its options set resources (an ephemeral container has none of its own)"
    : options.shmSize || options.addHosts.length > 0 || options.hostname
    ? "its options change the pod (a running pod cannot take new volumes or hosts)"
    : undefined;
  const container = (name: string, target?: string) =>
    renderActionContainer({
      name,
      step,
      workspacePath: input.workspacePath,
      envSecret: envName,
      inlineEnv: inline,
      targetContainerName: target,
    });
  /** The step's container in `pod`, with its options; returns their warnings. */
  const withOptions = (pod: V1Pod, stepContainer: V1Container) =>
    applyDockerOptions(pod, stepContainer, options, {
      owner: "step",
      role: "step",
      limits: settings,
    });
  const ephemeral = container(`step-${randomSuffix(8)}`, JOB_CONTAINER_NAME);
  // An ephemeral container joins a pod that exists: only what is the container's own applies,
  // and a step whose options need more runs in a pod of its own (ownPodReason).
  const warnings = withOptions({ metadata: {}, spec: { containers: [] } }, ephemeral);
  // The job pod already carries the pod-level settings; the container brings its own.
  const restricted = settings.podSecurity === "restricted";
  if (restricted) restrictContainer(ephemeral as V1Container);
  return {
    placement: ownPodReason ? "own-pod" : "job-pod",
    ...(ownPodReason ? { ownPodReason } : {}),
    warnings,
    envSecret: renderEnvSecret({ name: envName, data: secretData, labels }),
    inlineEnv: inline,
    ephemeral,
    ownPod: (services) => {
      const registrySecret = step.registry
        ? renderRegistrySecret({ name: secretName(runner), registry: step.registry, labels })
        : undefined;
      const pod = renderStepPod({
        name: stepPodName(runner),
        runnerPodName: runner,
        action: container(STEP_CONTAINER),
        helperImage: settings.runnerImage,
        workspacePath: input.workspacePath,
        workspace: settings.workspace === "copy" ? { mode: "copy" } : {
          mode: "volume",
          claimName: settings.claimName,
          runnerNodeName: input.runnerNodeName,
          useKubeScheduler: settings.useKubeScheduler,
        },
        imagePullSecrets: [
          ...(registrySecret ? [registrySecret.metadata!.name!] : []),
          ...(input.pullSecret ? [input.pullSecret] : []),
        ],
        services,
      });
      withOptions(pod, pod.spec!.containers.find((c) => c.name === STEP_CONTAINER)!);
      if (restricted) restrictPod(pod, settings.runAsUser);
      return registrySecret ? { pod, registrySecret } : { pod };
    },
  };
}
