/**
 * The container a container step runs in, as `docker run` would run it: the action's image with
 * its own ENTRYPOINT and CMD unless the step gives `entryPoint` (then ENTRYPOINT is replaced and
 * CMD dropped, as `--entrypoint` does) or arguments (they replace CMD). The runner hands the
 * arguments over as a command line split on spaces (each argument in literal double quotes);
 * {@link splitCommandLine} joins and re-reads it with the rules docker mode's command line gets.
 * The step's environment comes from a Secret through `envFrom` (values never appear in the pod
 * spec, and `envFrom` values are taken verbatim); `$` in the command and arguments is doubled so
 * the kubelet's `$(VAR)` expansion leaves them byte-exact. Pure.
 *
 * @example
 * ```ts
 * const step = containerOf("alpine:3", { entryPointArgs: ['"hello', 'world"'] });
 * const { secretData } = actionEnvironment({ GREETING: "hi" });
 * const container = renderActionContainer({
 *   name: "step-abc", step, workspacePath: "repo/repo", envSecret: "arc-x-secret-1",
 * });
 * container.args; // ["hello world"]
 * ```
 * @module
 */
import type { V1EnvVar, V1EphemeralContainer, V1VolumeMount } from "@kubernetes/client-node";
import { splitCommandLine } from "../runner/command_line.ts";
import type { Container } from "../runner/input.ts";
import { actionMounts } from "./action_directories.ts";

/** Variables every step sees unless the runner sets them (as in script steps). */
const ALWAYS = { CI: "true", GITHUB_ACTIONS: "true" };
/** What a Secret key may be; other names travel in `env` instead. */
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/** What the action container is made of. */
export interface ActionContainerInput {
  /** The container's name (unique in its pod). */
  name: string;
  /** The step as the runner described it. */
  step: Container;
  /** GITHUB_WORKSPACE relative to `<work>`. */
  workspacePath: string;
  /** The Secret holding the step's environment. */
  envSecret: string;
  /** The variables whose names cannot be Secret keys (see {@link actionEnvironment}). */
  inlineEnv?: V1EnvVar[];
  /** An ephemeral container's target: it shares that container's processes (so kubehook can stop
   * it from there). */
  targetContainerName?: string;
  /** Its mounts; default the shared directories of the job pod (action_directories.ts). */
  volumeMounts?: V1VolumeMount[];
}

/** The step's environment split for the pod: Secret data for the names a Secret can hold, `env`
 * entries (values escaped for the kubelet's expansion) for the others. */
export function actionEnvironment(
  variables: Record<string, string>,
): { secretData: Record<string, string>; inline: V1EnvVar[] } {
  const secretData: Record<string, string> = {};
  const inline: V1EnvVar[] = [];
  for (const [name, value] of Object.entries({ ...ALWAYS, ...variables })) {
    if (SECRET_KEY.test(name)) secretData[name] = value;
    else inline.push({ name, value: escapeExpansion(value) });
  }
  return { secretData, inline };
}

/** Renders the container; usable as an ephemeral container and as a pod's container. */
export function renderActionContainer(input: ActionContainerInput): V1EphemeralContainer {
  const { step } = input;
  if (!step.image) {
    throw new Error("A container step without an image (a Dockerfile action) needs a build first.");
  }
  const args = splitCommandLine(step.entryPointArgs.join(" "));
  return {
    name: input.name,
    image: step.image,
    ...(step.entryPoint ? { command: [escapeExpansion(step.entryPoint)] } : {}),
    ...(args.length > 0 ? { args: args.map(escapeExpansion) } : {}),
    ...(step.workingDirectory ? { workingDir: step.workingDirectory } : {}),
    envFrom: [{ secretRef: { name: input.envSecret } }],
    ...(input.inlineEnv?.length ? { env: input.inlineEnv } : {}),
    volumeMounts: input.volumeMounts ?? actionMounts(input.workspacePath),
    ...(input.targetContainerName ? { targetContainerName: input.targetContainerName } : {}),
  };
}

/** Doubles every `$`: the kubelet turns `$$` into `$` and expands `$(NAME)` in command, args and
 * env values, so this is the only way a literal `$(...)` reaches the action. */
export function escapeExpansion(text: string): string {
  return text.replaceAll("$", () => "$$");
}
