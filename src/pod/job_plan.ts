/**
 * The objects prepare_job creates for a job, computed without creating them: the registry secrets
 * (in creation order) and the job pod with the pod template merged in. `kubehook render` prints the
 * plan and `kubehook doctor` uses it to try the template.
 *
 * prepare_job creates exactly this plan, so what render prints is what the hook creates.
 *
 * @example
 * ```ts
 * const plan = await planJobObjects(invocation.args, readSettings(env), runnerPod, "repo/repo");
 * for (const { secret } of plan.secrets) console.log(secret.metadata?.name);
 * console.log(plan.pod.spec?.containers.map((c) => c.name));
 * ```
 * @module
 */
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import { renderJobPod, type WorkspaceSource } from "./job_pod.ts";
import { kubehookLabels, runnerOwnerReference } from "./metadata.ts";
import { JOB_CONTAINER_NAME, jobPodName, secretName, serviceContainerNames } from "./names.ts";
import { renderRegistrySecret } from "./registry_secret.ts";
import { restrictPod } from "./pod_security.ts";
import { applyDockerOptions } from "./apply_options.ts";
import { type DockerOptionsContext, parseDockerOptions } from "./docker_options.ts";
import type { Container } from "../runner/input.ts";
import type { Settings } from "../runner/settings.ts";
import { CONTAINER_WORK, type WorkLayout } from "../runner/layout.ts";

/** What a job needs: prepare_job's arguments. */
export interface JobArgs {
  container: Container | null;
  services: readonly Container[];
}

/** GITHUB_WORKSPACE relative to `<work>` (`<repo>/<repo>`), from the runner's layout. */
export function workspacePathOf(layout: WorkLayout): string {
  return layout.workspace.slice(layout.work.length + 1);
}

/** The workspace path outside a runner (render, doctor): the job container's working directory
 * under `/__w` when the input has one, else `repo/repo`. */
export function workspacePathOutsideRunner(container: Container | null): string {
  const dir = container?.workingDirectory;
  return dir?.startsWith(`${CONTAINER_WORK}/`) && dir.length > CONTAINER_WORK.length + 1
    ? dir.slice(CONTAINER_WORK.length + 1).replace(/\/+$/, "")
    : "repo/repo";
}

/** One image pull secret and what it is for. */
export interface PlannedSecret {
  secret: V1Secret;
  /** The container, registry and user it serves, without the password, e.g.
   * `services[1] (ghcr.io/o/db:16): registry ghcr.io, user octocat`. */
  about: string;
}

/** Everything prepare_job would create, in creation order, and the template's warnings. */
export interface JobPlan {
  secrets: PlannedSecret[];
  pod: V1Pod;
  /** The services' container names, in input order (`$<name>` in templates, ids in the response). */
  serviceNames: string[];
  /** One sentence each: what the workflow's options could not do, and the pod template's
   * warnings with `file:line`. */
  warnings: string[];
}

/** Plans the job's objects. `runner` is the runner pod as the API returned it (its uid makes it
 * the owner, its node places a volume-mode pod), or undefined when it was not found. */
export async function planJobObjects(
  args: JobArgs,
  settings: Settings,
  runner: V1Pod | undefined,
  workspacePath: string,
  optionsContext: DockerOptionsContext = {},
): Promise<JobPlan> {
  const { container, services } = args;
  const name = jobPodName(settings.runnerPodName);
  const serviceNames = serviceContainerNames(services.map((s) => s.image ?? ""));
  const labels = kubehookLabels(settings.runnerPodName, name);
  const owners = runner?.metadata?.uid
    ? [runnerOwnerReference(settings.runnerPodName, runner.metadata.uid)]
    : undefined;
  const secrets: PlannedSecret[] = [];
  [container, ...services].forEach((c, i) => {
    if (!c?.registry) return;
    const target = i === 0 ? `the job container (${c.image})` : `services[${i - 1}] (${c.image})`;
    const about = `${target}: registry ${c.registry.serverUrl || "Docker Hub"}, user ` +
      `${c.registry.username}`;
    const secret = renderRegistrySecret({
      name: secretName(settings.runnerPodName),
      registry: c.registry,
      labels,
      ownerReferences: owners,
    });
    secrets.push({ secret, about });
  });
  let pod = renderJobPod({
    name,
    runnerPodName: settings.runnerPodName,
    runnerPodUid: runner?.metadata?.uid,
    container,
    services,
    serviceNames,
    imagePullSecrets: secrets.map((s) => s.secret.metadata!.name!),
    runnerImage: settings.runnerImage,
    workspace: workspaceSource(settings, runner),
    workspacePath,
  });
  // Before the template: where both set a field, the template (the platform team's) wins.
  let warnings = [container, ...services].flatMap((c, i) => {
    if (!c) return [];
    const owner = i === 0 ? "job container" : `service ${serviceNames[i - 1]}`;
    const target = pod.spec!.containers.find((k) =>
      k.name === (i === 0 ? JOB_CONTAINER_NAME : serviceNames[i - 1])
    )!;
    return applyDockerOptions(
      pod,
      target,
      parseDockerOptions(c.createOptions, owner, optionsContext),
      {
        owner,
        role: i === 0 ? "job" : "service",
        limits: settings,
      },
    );
  });
  if (settings.templatePath) {
    const { loadPodTemplate } = await import("../pod/template.ts");
    const { mergePodTemplate } = await import("../pod/template_merge.ts");
    const merged = mergePodTemplate(pod, await loadPodTemplate(settings.templatePath), {
      serviceNames,
    });
    pod = merged.pod;
    warnings = [...warnings, ...merged.warnings];
  }
  // After the template: it may choose users and contexts itself; the rest is filled in.
  if (settings.podSecurity === "restricted") restrictPod(pod, settings.runAsUser);
  return { secrets, pod, serviceNames, warnings };
}

function workspaceSource(settings: Settings, runner: V1Pod | undefined): WorkspaceSource {
  if (settings.workspace === "copy") return { mode: "copy" };
  return {
    mode: "volume",
    claimName: settings.claimName,
    runnerNodeName: runner?.spec?.nodeName,
    useKubeScheduler: settings.useKubeScheduler,
  };
}
