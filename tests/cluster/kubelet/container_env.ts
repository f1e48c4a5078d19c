/**
 * A container's environment and command line the way kubelet computes them: `envFrom` then `env`
 * in order, later names overriding earlier ones, values from secrets and pod fields, `$(VAR)`
 * references expanded against what was defined before (`$$` escapes, unknown references stay
 * as written); then `command`/`args` over the image's entrypoint/cmd, expanded the same way. The
 * image's own env comes first and is overridden by name, as the runtime merges it.
 *
 * @module
 */
import type { V1Container, V1Pod, V1Secret } from "@kubernetes/client-node";
import type { ImageConfig } from "./images.ts";
import { secretValue } from "./pull_secrets.ts";

/** A container cannot be created from its spec (kubelet's CreateContainerConfigError). */
export class ContainerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ContainerConfigError";
  }
}

/** What env values may refer to besides the spec. */
export interface EnvSources {
  secret(name: string): V1Secret | undefined;
  podIP: string;
  hostIP: string;
}

/** Expands `$(VAR)` references in `input` from `vars`, exactly as Kubernetes does. */
export function expand(input: string, vars: ReadonlyMap<string, string>): string {
  let out = "";
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== "$" || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const next = input[cursor + 1];
    if (next === "$") {
      out += "$";
      cursor += 1;
    } else if (next === "(") {
      const close = input.indexOf(")", cursor + 2);
      if (close < 0) {
        out += "$(";
        cursor += 1;
      } else {
        const name = input.slice(cursor + 2, close);
        out += vars.get(name) ?? `$(${name})`;
        cursor = close;
      }
    } else {
      out += "$" + next;
      cursor += 1;
    }
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

/** The variables kubelet defines from the spec (image env excluded), in definition order. */
export function specEnv(
  pod: V1Pod,
  container: V1Container,
  sources: EnvSources,
): Map<string, string> {
  const vars = new Map<string, string>();
  const namespace = pod.metadata?.namespace ?? "default";
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef && !from.configMapRef.optional) {
      throw new ContainerConfigError(`configmap "${from.configMapRef.name}" not found`);
    }
    if (!from.secretRef) continue;
    const secret = sources.secret(from.secretRef.name ?? "");
    if (!secret) {
      if (from.secretRef.optional) continue;
      throw new ContainerConfigError(`secret "${from.secretRef.name}" not found`);
    }
    const keys = new Set([...Object.keys(secret.data ?? {}), ...Object.keys(stringData(secret))]);
    for (const key of keys) {
      const name = `${from.prefix ?? ""}${key}`;
      // kubelet skips keys that are not valid variable names (and warns in an event).
      if (/^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(name)) vars.set(name, secretValue(secret, key) ?? "");
    }
  }
  for (const env of container.env ?? []) {
    const value = env.valueFrom
      ? valueFrom(pod, env.valueFrom, sources, namespace)
      : expand(env.value ?? "", vars);
    if (value !== undefined) vars.set(env.name, value);
  }
  return vars;
}

/** The full `NAME=value` list the process gets: image env, then HOSTNAME and HOME defaults, then the spec's. */
export function processEnv(
  image: ImageConfig,
  spec: ReadonlyMap<string, string>,
  defaults: { hostname: string; home: string },
): Map<string, string> {
  const env = new Map<string, string>();
  for (const entry of image.env) {
    const eq = entry.indexOf("=");
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  env.set("HOSTNAME", defaults.hostname);
  if (!env.has("HOME")) env.set("HOME", defaults.home);
  for (const [name, value] of spec) env.set(name, value);
  return env;
}

/** `command`/`args` over the image's entrypoint/cmd, Kubernetes semantics, references expanded. */
export function containerArgv(
  container: V1Container,
  image: ImageConfig,
  vars: ReadonlyMap<string, string>,
): string[] {
  const each = (list: string[]) => list.map((arg) => expand(arg, vars));
  const argv = container.command
    ? [...each(container.command), ...each(container.args ?? [])]
    : container.args
    ? [...image.entrypoint, ...each(container.args)]
    : [...image.entrypoint, ...image.cmd];
  if (argv.length === 0) {
    throw new ContainerConfigError(
      `container "${container.name}" has no command: its image sets no entrypoint or cmd, so ` +
        "the spec must give `command`",
    );
  }
  return argv;
}

function valueFrom(
  pod: V1Pod,
  source: NonNullable<V1Container["env"]>[number]["valueFrom"] & object,
  sources: EnvSources,
  namespace: string,
): string | undefined {
  if (source.secretKeyRef) {
    const { name = "", key, optional } = source.secretKeyRef;
    const secret = sources.secret(name);
    const value = secret && secretValue(secret, key);
    if (value !== undefined || optional) return value;
    throw new ContainerConfigError(
      secret
        ? `couldn't find key ${key} in Secret ${namespace}/${name}`
        : `secret "${name}" not found`,
    );
  }
  if (source.configMapKeyRef) {
    if (source.configMapKeyRef.optional) return undefined;
    throw new ContainerConfigError(`configmap "${source.configMapKeyRef.name}" not found`);
  }
  if (source.fieldRef) return fieldValue(pod, source.fieldRef.fieldPath, sources);
  throw new ContainerConfigError(
    "resourceFieldRef is not supported by the local cluster; set the value literally",
  );
}

function fieldValue(pod: V1Pod, path: string, sources: EnvSources): string {
  const meta = pod.metadata ?? {};
  const mapKey = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (mapKey) return (mapKey[1] === "labels" ? meta.labels : meta.annotations)?.[mapKey[2]] ?? "";
  const fields: Record<string, string | undefined> = {
    "metadata.name": meta.name,
    "metadata.namespace": meta.namespace ?? "default",
    "metadata.uid": meta.uid,
    "spec.nodeName": pod.spec?.nodeName,
    "spec.serviceAccountName": pod.spec?.serviceAccountName ?? "default",
    "status.podIP": sources.podIP,
    "status.hostIP": sources.hostIP,
  };
  if (!(path in fields)) {
    throw new ContainerConfigError(`unsupported fieldRef fieldPath "${path}"`);
  }
  return fields[path] ?? "";
}

function stringData(secret: V1Secret): Record<string, string> {
  return (secret as { stringData?: Record<string, string> }).stringData ?? {};
}
