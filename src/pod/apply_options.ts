/**
 * Puts a container's Docker options (docker_options.ts) into the pod: resources within the
 * administrator's caps, the user, capabilities (privileges only where allowed), environment,
 * entrypoint and working directory, `/dev/shm`, host name and extra hosts, labels and the health
 * check as a readiness probe. Applied before the pod template is merged, so the template wins
 * where both set a field. Pure; returns the warnings for the job log.
 *
 * @example
 * ```ts
 * const warnings = applyDockerOptions(pod, pod.spec!.containers[1], options, {
 *   owner: "service postgres", role: "service", limits: { allowPrivileged: false },
 * });
 * ```
 * @module
 */
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { cpuMillis, memoryBytes } from "../quantity.ts";
import { escapeExpansion } from "./action_container.ts";
import type { DockerOptions } from "./docker_options.ts";

/** What the administrator allows (KUBEHOOK_MAX_CPU, KUBEHOOK_MAX_MEMORY, KUBEHOOK_ALLOW_PRIVILEGED). */
export interface OptionLimits {
  maxCpu?: string;
  maxMemory?: string;
  allowPrivileged: boolean;
}

/** Whose options these are. */
export interface OptionTarget {
  /** The container as the job log names it (`job container`, `service postgres`). */
  owner: string;
  /** The job container keeps kubehook's own command and working directory; its host name and
   * labels are the pod's, which it stands for. A step's host name is its pod's too (such a step
   * gets a pod of its own). Only services have health checks. */
  role: "job" | "service" | "step";
  limits: OptionLimits;
}

/** The options' containers and pods are refused: a privilege the administrator did not allow. */
export class OptionsRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OptionsRefused";
  }
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Applies `options` to `container` of `pod`; throws {@link OptionsRefused} for privileges that
 * are not allowed. */
export function applyDockerOptions(
  pod: V1Pod,
  container: V1Container,
  options: DockerOptions,
  target: OptionTarget,
): string[] {
  const warnings = [...options.warnings];
  const { owner, role, limits } = target;
  if ((options.privileged || options.capAdd.length > 0) && !limits.allowPrivileged) {
    const asked = [
      ...(options.privileged ? ["--privileged"] : []),
      ...(options.capAdd.length ? [`--cap-add ${options.capAdd.join(",")}`] : []),
    ].join(" and ");
    throw new OptionsRefused(
      `The ${owner}'s options ask for ${asked}, which this runner does not allow. Remove the ` +
        "option from the workflow, or have the administrator set KUBEHOOK_ALLOW_PRIVILEGED=true.",
    );
  }
  if (options.resources) {
    container.resources = capped(options.resources, limits, owner, warnings);
  }
  const security = { ...container.securityContext };
  if (options.user) {
    security.runAsUser = options.user.uid;
    if (options.user.gid !== undefined) security.runAsGroup = options.user.gid;
  }
  if (options.privileged) security.privileged = true;
  if (options.capAdd.length || options.capDrop.length) {
    security.capabilities = {
      ...(options.capAdd.length ? { add: options.capAdd } : {}),
      ...(options.capDrop.length ? { drop: options.capDrop } : {}),
    };
  }
  if (options.readOnlyRootFilesystem) security.readOnlyRootFilesystem = true;
  if (Object.keys(security).length > 0) container.securityContext = security;
  const env = container.env ?? [];
  for (const [name, value] of Object.entries(options.env)) {
    // The runner's own variables for the container come first; options add what is missing.
    if (!env.some((e) => e.name === name)) env.push({ name, value: escapeExpansion(value) });
  }
  if (env.length > 0) container.env = env;
  if (options.entrypoint) {
    if (role === "job") {
      warnings.push(
        `The ${owner}'s option --entrypoint is ignored: kubehook keeps the job container running ` +
          "itself (give the workflow's container an entrypoint only for a service).",
      );
    } else container.command = [options.entrypoint];
  }
  if (options.workdir) {
    if (role === "job") {
      warnings.push(
        `The ${owner}'s option --workdir is ignored: each step starts in its own working directory.`,
      );
    } else container.workingDir = options.workdir;
  }
  const spec = pod.spec!;
  if (options.shmSize) {
    const volume = `shm-${container.name}`.slice(0, 63).replace(/-+$/, "");
    spec.volumes = [
      ...(spec.volumes ?? []),
      { name: volume, emptyDir: { medium: "Memory", sizeLimit: options.shmSize } },
    ];
    container.volumeMounts = [
      ...(container.volumeMounts ?? []),
      { name: volume, mountPath: "/dev/shm" },
    ];
  }
  if (options.hostname) {
    if (role !== "service") spec.hostname = options.hostname;
    else {
      warnings.push(
        `The ${owner}'s option --hostname is ignored: it shares the job pod's host name.`,
      );
    }
  }
  if (options.addHosts.length > 0) {
    spec.hostAliases = [
      ...(spec.hostAliases ?? []),
      ...options.addHosts.map((h) => ({ ip: h.ip, hostnames: [h.hostname] })),
    ];
  }
  if (role === "step" && Object.keys(options.labels).length > 0) {
    warnings.push(
      `The ${owner}'s labels are ignored: a container step is not an object of its own.`,
    );
  }
  for (const [key, value] of role === "step" ? [] : Object.entries(options.labels)) {
    if (!LABEL_VALUE.test(value) || value.length > 63) {
      warnings.push(
        `The ${owner}'s label ${key}=${value} is not a valid label value: it is ignored.`,
      );
    } else pod.metadata!.labels = { [key]: value, ...pod.metadata!.labels };
  }
  if (options.health && role !== "service") {
    warnings.push(
      `The ${owner}'s health check is not run: docker mode waits for the health of services ` +
        "only, and so does kubehook.",
    );
  } else if (options.health) {
    // Docker's defaults. A start period is not a delay (a check that passes in it counts, docker
    // just forgives the failures): the probe starts at once and its failure threshold grows by
    // the tries the period holds, which is what prepare_job's patience reads (service_health.ts).
    const period = options.health.periodSeconds ?? 30;
    container.readinessProbe = {
      exec: { command: options.health.command },
      periodSeconds: period,
      timeoutSeconds: options.health.timeoutSeconds ?? 30,
      failureThreshold: (options.health.failureThreshold ?? 3) +
        Math.ceil((options.health.startPeriodSeconds ?? 0) / period),
    };
  }
  return warnings;
}

/** The requested resources, each lowered to the administrator's cap where it asks for more. */
function capped(
  resources: NonNullable<DockerOptions["resources"]>,
  limits: OptionLimits,
  owner: string,
  warnings: string[],
): { limits?: Record<string, string>; requests?: Record<string, string> } {
  const caps = [
    { name: "cpu", max: limits.maxCpu, parse: cpuMillis, variable: "KUBEHOOK_MAX_CPU" },
    { name: "memory", max: limits.maxMemory, parse: memoryBytes, variable: "KUBEHOOK_MAX_MEMORY" },
  ];
  const result: { limits?: Record<string, string>; requests?: Record<string, string> } = {};
  for (const kind of ["limits", "requests"] as const) {
    const asked = resources[kind];
    if (!asked) continue;
    result[kind] = { ...asked };
    for (const cap of caps) {
      const value = asked[cap.name];
      if (value === undefined || cap.max === undefined) continue;
      if ((cap.parse(value) ?? 0) > (cap.parse(cap.max) ?? Infinity)) {
        result[kind]![cap.name] = cap.max;
        warnings.push(
          `The ${owner}'s options ask for ${cap.name} ${value}, more than ${cap.variable}=${cap.max} ` +
            `allows: it gets ${cap.max}.`,
        );
      }
    }
  }
  // Kubernetes refuses a request above its limit; docker would take a reservation above the
  // limit without a word, and the limit is what holds.
  for (const name of ["cpu", "memory"]) {
    const request = result.requests?.[name], limit = result.limits?.[name];
    const parse = name === "cpu" ? cpuMillis : memoryBytes;
    if (request && limit && (parse(request) ?? 0) > (parse(limit) ?? Infinity)) {
      delete result.requests![name];
      if (Object.keys(result.requests!).length === 0) delete result.requests;
      warnings.push(
        `The ${owner}'s options reserve ${name} ${request}, more than its limit ${limit}: the ` +
          "reservation is dropped.",
      );
    }
  }
  return result;
}
