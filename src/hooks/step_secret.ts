/**
 * The Secret a container step's environment travels in, planned once per step and used by both
 * ways of running the step (ephemeral_step.ts, step_pod.ts).
 *
 * @module
 */
import type { V1EnvVar, V1Secret } from "@kubernetes/client-node";
import { actionEnvironment } from "../pod/action_container.ts";
import { renderEnvSecret } from "../pod/env_secret.ts";
import { kubehookLabels } from "../pod/metadata.ts";
import { jobPodName, secretName } from "../pod/names.ts";

/** The step's environment: the Secret (by name, and to create) and what must go inline. */
export interface StepSecret {
  name: string;
  secret: V1Secret;
  inline: V1EnvVar[];
}

/** Plans the Secret of a step of `runnerPod`'s job. */
export function stepSecret(runnerPod: string, variables: Record<string, string>): StepSecret {
  const name = secretName(runnerPod);
  const { secretData, inline } = actionEnvironment(variables);
  return {
    name,
    secret: renderEnvSecret({
      name,
      data: secretData,
      labels: kubehookLabels(runnerPod, jobPodName(runnerPod)),
    }),
    inline,
  };
}
