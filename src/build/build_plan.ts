/**
 * What building a Dockerfile action takes, decided without a cluster: the registry settings it
 * needs (or the error naming the missing ones), the build's digest and target, and the builder
 * pod. run_container_step carries it out (hooks/build_image.ts); `kubehook render` prints it.
 *
 * @example
 * ```ts
 * const plan = await planBuild({ dockerfile: "/w/_actions/o/r/v1/Dockerfile", settings, env,
 *   workDir: "/w", namespace: "ci", podSecurity: "baseline" });
 * plan.pod.spec?.containers[0].args; // ["--dockerfile=Dockerfile", "--context=tar://stdin", ...]
 * ```
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import { buildPodName, jobPodName } from "../pod/names.ts";
import { kubehookLabels } from "../pod/metadata.ts";
import { formatRef } from "../registry/registry_client.ts";
import {
  REGISTRY_HOST,
  REGISTRY_SECRET_NAME,
  type RegistrySettings,
  type Settings,
} from "../runner/settings.ts";
import type { Builder } from "./builder.ts";
import { type BuildTarget, buildTarget } from "./build_target.ts";
import { contextDigest } from "./context_digest.ts";
import { KANIKO } from "./kaniko.ts";

/** Where the README explains builds, for errors. */
export const BUILD_README = 'README section "Dockerfile actions"';

/** What the plan depends on. */
export interface BuildInput {
  /** The Dockerfile's absolute host path, as the runner sends it. */
  dockerfile: string;
  settings: Settings;
  /** The runner's environment, to say which registry variables are set. */
  env: Record<string, string | undefined>;
  /** `<work>` on the host. */
  workDir: string;
  namespace: string;
  /** The standard the job's pods are made for. */
  podSecurity: "auto" | "baseline" | "restricted";
}

/** One build. */
export interface BuildPlan {
  builder: Builder;
  registry: RegistrySettings;
  target: BuildTarget;
  /** The host directory sent as the context, and the Dockerfile's name in it. */
  contextDir: string;
  dockerfileName: string;
  dockerfileText: string;
  /** The builder pod, created only when the registry lacks the image. */
  pod: V1Pod;
}

/** Plans the build; throws naming what is missing or unreadable and the fix. */
export async function planBuild(input: BuildInput): Promise<BuildPlan> {
  const { dockerfile, settings, namespace } = input;
  const registry = settings.registry ?? missingRegistry(input);
  if (input.podSecurity === "restricted") {
    throw new Error(
      `The action's Dockerfile (${dockerfile}) cannot be built here: the builder (Kaniko) runs as ` +
        "root inside its container, which the Pod Security restricted standard kubehook applies " +
        `to namespace "${namespace}" forbids. Run Dockerfile actions' jobs in a namespace that ` +
        "enforces baseline, or publish the action's image and use docker://.",
    );
  }
  const contextDir = dockerfile.replace(/\/[^/]*$/, "") || "/";
  const dockerfileName = dockerfile.slice(contextDir.length + 1);
  let dockerfileText: string;
  try {
    dockerfileText = await Deno.readTextFile(dockerfile);
  } catch (error) {
    throw new Error(
      `The action's Dockerfile ${dockerfile} cannot be read on the runner: ${
        (error as Error).message
      }.`,
    );
  }
  const builder = KANIKO;
  const digest = await contextDigest(contextDir, dockerfileName, [
    builder.name,
    settings.builderImage,
    ...settings.builderArgs,
  ]);
  const target = buildTarget(registry, contextDir, input.workDir, digest);
  const runner = settings.runnerPodName;
  const pod = builder.pod({
    podName: buildPodName(runner),
    labels: kubehookLabels(runner, jobPodName(runner)),
    image: settings.builderImage,
    dockerfile: dockerfileName,
    destination: formatRef(target.push),
    registrySecret: registry.secretName,
    insecure: registry.insecure,
    extraArgs: settings.builderArgs,
  });
  return { builder, registry, target, contextDir, dockerfileName, dockerfileText, pod };
}

function missingRegistry(input: BuildInput): never {
  const names = [
    REGISTRY_HOST,
    `${REGISTRY_HOST}_PUSH`,
    `${REGISTRY_HOST}_PULL`,
    REGISTRY_SECRET_NAME,
  ];
  const set = names.filter((n) => input.env[n]?.trim());
  throw new Error(
    `This step's action is built from a Dockerfile (${input.dockerfile}), and kubehook builds ` +
      `it into a registry: set ${REGISTRY_HOST} (e.g. ghcr.io/OWNER; or both ${REGISTRY_HOST}` +
      `_PUSH and ${REGISTRY_HOST}_PULL) and ${REGISTRY_SECRET_NAME} (a ` +
      `kubernetes.io/dockerconfigjson Secret in namespace "${input.namespace}") in the runner's ` +
      `environment (${set.length ? `set now: ${set.join(", ")}` : "none is set"}). See the ` +
      `${BUILD_README}.`,
  );
}
