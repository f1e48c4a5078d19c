/**
 * Applies a pod template to a rendered pod by the upstream rules (ADR 0134, protocol §7):
 * 1. labels and annotations are added; kubehook's reserved labels win;
 * 2. pod spec fields other than containers and volumes are applied from the template;
 * 3. volumes are appended;
 * 4. `$job` merges into the job container, `$<service>` into that service and `$externals` into
 *    kubehook's externals container (`name` and `image` ignored; `env`, `volumeMounts`, `ports`
 *    appended; other fields replace); any other container is added as a sidecar.
 *
 * Two deliberate differences from upstream, both so a template cannot break the pod kubehook needs:
 * `initContainers` and `imagePullSecrets` are appended rather than replaced (replacing them would drop
 * a step pod's init containers and the registry secrets), and `restartPolicy` stays `Never`. An
 * init container named `externals` is merged into kubehook's externals container, as `$externals`
 * is: that container was an init container once, and templates written then give it resources or
 * a securityContext that way.
 *
 * An entry for a service the job does not have (`$postgres` in a job with only redis) is a warning,
 * not an error: one template serves every workflow of a runner scale set, and most of them have
 * different services. The warning names the file, the line and the known names, so typos are seen.
 *
 * @example
 * ```ts
 * const { pod, warnings } = mergePodTemplate(renderJobPod(input), template, { serviceNames });
 * for (const w of warnings) warning(w);
 * ```
 * @module
 */
import type { V1Container, V1Pod, V1PodSpec } from "@kubernetes/client-node";
import { RESERVED_LABELS } from "./metadata.ts";
import { EXTERNALS_CONTAINER } from "./externals.ts";
import { JOB_CONTAINER_NAME } from "./names.ts";
import { type PodTemplate, type TemplateContainer, TemplateError } from "./template.ts";

/** The merged pod and what the user should know about it (one sentence each, with `file:line`). */
export interface MergeResult {
  pod: V1Pod;
  warnings: string[];
}

/** Spec fields whose template lists are appended to kubehook's, not put in their place. */
const APPENDED_SPEC_LISTS = ["initContainers", "imagePullSecrets"] as const;
/** Container fields whose template lists are appended. */
const APPENDED_CONTAINER_LISTS = ["env", "volumeMounts", "ports"] as const;

/** Merges `template` into a copy of `pod`. `serviceNames` are the services' container names. */
export function mergePodTemplate(
  pod: V1Pod,
  template: PodTemplate,
  options: { serviceNames: readonly string[] },
): MergeResult {
  const merged = structuredClone(pod);
  const metadata = merged.metadata ??= {};
  const spec = merged.spec ??= { containers: [] };
  const warnings = [...template.warnings];

  const labels = metadata.labels ??= {};
  for (const { key, value, at } of template.labels) {
    if (RESERVED_LABELS.includes(key)) {
      warnings.push(`Pod template ${at}: label "${key}" is kubehook's own and was not changed.`);
    } else {
      labels[key] = value;
    }
  }
  Object.assign(metadata.annotations ??= {}, template.annotations);

  for (const [key, value] of Object.entries(template.spec) as [keyof V1PodSpec, unknown][]) {
    if (key === "restartPolicy" && value !== "Never") {
      warnings.push(
        `Pod template ${
          template.specAt[key]
        }: restartPolicy must stay Never for a job pod; ignored.`,
      );
    } else if (key === "initContainers" && Array.isArray(value)) {
      mergeInitContainers(spec, value as TemplateContainer[], template.specAt[key], warnings);
    } else {
      apply(spec, key, value, APPENDED_SPEC_LISTS);
    }
  }

  for (const { value: volume, at } of template.volumes) {
    const volumes = spec.volumes ??= [];
    if (volumes.some((v) => v.name === volume.name)) {
      throw new TemplateError(
        `Pod template ${at}: volume "${volume.name}" is already used by kubehook ` +
          `(${volumes.map((v) => v.name).join(", ")}). Rename it in the template.`,
      );
    }
    volumes.push(structuredClone(volume));
  }

  for (const { value: container, at } of template.containers) {
    if (container.name.startsWith("$")) {
      mergeInto(spec.containers, container, at, options.serviceNames, warnings);
    } else {
      addSidecar(spec.containers, container, at);
    }
  }
  return { pod: merged, warnings };
}

/** A template's init containers: one named like kubehook's own, or `externals` (kubehook's
 * externals container, an init container once), is merged into it as `$job` is into the job
 * container; the others are appended after kubehook's. */
function mergeInitContainers(
  spec: V1PodSpec,
  from: TemplateContainer[],
  at: string,
  warnings: string[],
): void {
  const own = spec.initContainers ?? [];
  const externals = spec.containers.find((c) => c.name === EXTERNALS_CONTAINER);
  const added: V1Container[] = [];
  for (const container of from) {
    const name = container.name.replace(/^\$/, "");
    const target = own.find((c) => c.name === name) ??
      (name === EXTERNALS_CONTAINER ? externals : undefined);
    if (target) mergeFields(target, container, `${at} (${container.name})`, warnings);
    else if (container.name.startsWith("$")) {
      warnings.push(
        `Pod template ${at}: init container "${container.name}" matches none of kubehook's (${
          [...own, ...externals ? [externals] : []].map((c) => c.name).join(", ") || "none"
        }); the entry was skipped.`,
      );
    } else added.push(structuredClone(container) as V1Container);
  }
  if (own.length + added.length > 0) spec.initContainers = [...own, ...added];
}

function mergeInto(
  containers: V1Container[],
  from: TemplateContainer,
  at: string,
  serviceNames: readonly string[],
  warnings: string[],
): void {
  const name = from.name.slice(1);
  const own = [JOB_CONTAINER_NAME, ...serviceNames, EXTERNALS_CONTAINER];
  const target = containers.find((c) => c.name === name);
  if (!target || !own.includes(name)) {
    const known = own.filter((n) => containers.some((c) => c.name === n)).map((n) => `$${n}`);
    warnings.push(
      `Pod template ${at}: "${from.name}" matches no container of this job (it has ${
        known.length ? known.join(", ") : "none"
      }); the entry was skipped. Service names come from the image, e.g. $redis for redis:7.`,
    );
    return;
  }
  mergeFields(target, from, at, warnings);
}

/** Merges a template entry's fields into `target`: lists of {@link APPENDED_CONTAINER_LISTS}
 * appended, the others replaced; `name` kept and `image` ignored (kubehook or the workflow
 * chooses it). */
function mergeFields(
  target: V1Container,
  from: TemplateContainer,
  at: string,
  warnings: string[],
): void {
  for (const [key, value] of Object.entries(from) as [keyof V1Container, unknown][]) {
    if (key === "name") continue;
    if (key === "image") {
      warnings.push(
        `Pod template ${at}: "image" of ${from.name} is ignored; the workflow chooses the image ` +
          "(ACTIONS_RUNNER_IMAGE for the externals container).",
      );
    } else if (
      (APPENDED_CONTAINER_LISTS as readonly string[]).includes(key) && Array.isArray(value)
    ) {
      const current = (target[key] as unknown[] | undefined) ?? [];
      (target as unknown as Record<string, unknown>)[key] = [...current, ...structuredClone(value)];
    } else {
      (target as unknown as Record<string, unknown>)[key] = structuredClone(value);
    }
  }
}

/** Sets `target[key]` to a copy of `value`, or appends it when `key` is one of `appended` lists. */
function apply(target: object, key: string, value: unknown, appended: readonly string[]): void {
  const fields = target as Record<string, unknown>;
  const current = fields[key];
  fields[key] = appended.includes(key) && Array.isArray(value)
    ? [...(Array.isArray(current) ? current : []), ...structuredClone(value)]
    : structuredClone(value);
}

function addSidecar(containers: V1Container[], sidecar: TemplateContainer, at: string): void {
  if (containers.some((c) => c.name === sidecar.name)) {
    throw new TemplateError(
      `Pod template ${at}: sidecar "${sidecar.name}" has the name of a job pod container; ` +
        `to change that container write "$${sidecar.name}", otherwise pick another name.`,
    );
  }
  if (typeof sidecar.image !== "string" || sidecar.image === "") {
    throw new TemplateError(
      `Pod template ${at}: sidecar "${sidecar.name}" has no image. Add \`image:\`, or write ` +
        `"$${sidecar.name}" if it was meant to change an existing container.`,
    );
  }
  containers.push(structuredClone(sidecar) as V1Container);
}
