/**
 * Every environment variable kubehook reads, in one place: typed, validated, with its default and a
 * one-line meaning. {@link SETTINGS} is the single source for the README configuration table and
 * `kubehook --help`; {@link readSettings} turns an environment into {@link Settings}.
 *
 * The upstream hook's variable names keep their meaning (kubehook is a drop-in replacement); new knobs
 * are `KUBEHOOK_*`.
 *
 * @example
 * ```ts
 * const settings = readSettings(Deno.env.toObject());
 * console.log(settings.runnerPodName, settings.workspace);
 * ```
 * @module
 */
import { cpuMillis, memoryBytes } from "../quantity.ts";

/** Where the job pod's `/__w` comes from. */
export type WorkspaceMode = "copy" | "volume";
/** What cleanup copies from the pod back to the runner's `<work>`. */
export type CopyBack = "changed" | "all" | "none";
/** Whether workspace transfers are gzip-compressed. */
export type Compression = "auto" | "gzip" | "none";

/** The typed configuration of one hook invocation. */
export interface Settings {
  /** The runner pod's name: names and labels every object kubehook creates. */
  runnerPodName: string;
  /** Namespace for kubehook's objects; undefined = the kubeconfig's or the in-cluster namespace. */
  namespace: string | undefined;
  /** The PVC holding the runner's `_work` (used in volume mode). */
  claimName: string;
  /** Path of a pod template YAML merged into the job pod, or undefined. */
  templatePath: string | undefined;
  /** How long prepare_job waits for the job pod to run, in seconds. */
  prepareJobTimeoutSeconds: number;
  /** Volume mode: let the scheduler place the job pod freely instead of on the runner's node. */
  useKubeScheduler: boolean;
  /** Image of the job pod's container that copies the runner's externals into the pod. */
  runnerImage: string;
  /** Period of the in-band exec heartbeat, in milliseconds. */
  heartbeatPeriodMs: number;
  /** A silent exec connection older than this is considered stalled, in milliseconds. */
  heartbeatDeadlineMs: number;
  /** Copy `<work>` into the pod, or mount the runner's work PVC. */
  workspace: WorkspaceMode;
  /** What cleanup copies back from the pod. */
  copyBack: CopyBack;
  /** Compression of workspace transfers. */
  compression: Compression;
  /** The runner asked for debug logs (`RUNNER_DEBUG=1` or `ACTIONS_STEP_DEBUG=true`). */
  debug: boolean;
  /** Caps on what a workflow's `options` may ask for (CPU and memory quantities). */
  maxCpu: string | undefined;
  maxMemory: string | undefined;
  /** Whether `options` may make a container privileged or add capabilities. */
  allowPrivileged: boolean;
  /** The Pod Security standard kubehook's pods are made for: `auto` reads the namespace's
   * `pod-security.kubernetes.io/enforce` label where the credentials may. */
  podSecurity: "auto" | "baseline" | "restricted";
  /** The user and group of containers that set none, under `restricted`. */
  runAsUser: { uid: number; gid: number };
  /** Where Dockerfile actions' images go; undefined when builds are not set up. */
  registry: RegistrySettings | undefined;
  /** The image of the builder pods that build Dockerfile actions. */
  builderImage: string;
  /** Flags added to every build's command line (`--registry-mirror=...`, `--cache=true`). */
  builderArgs: string[];
}

/** The registry Dockerfile actions are built into (seed 002's interface). */
export interface RegistrySettings {
  /** `host[:port][/path]` the builder pushes to, and kubehook asks whether a tag exists. */
  push: string;
  /** `host[:port][/path]` the kubelet pulls from (the same registry, seen from the node). */
  pull: string;
  /** The `kubernetes.io/dockerconfigjson` Secret the builder pushes with and step pods pull with. */
  secretName: string;
  /** The registry speaks plain HTTP (a cluster-local registry without TLS). */
  insecure: boolean;
}

/** The variables a Dockerfile build needs, for errors that name them. */
export const REGISTRY_HOST = "ACTIONS_RUNNER_CONTAINER_HOOKS_K8S_REGISTRY_HOST";
export const REGISTRY_SECRET_NAME = "ACTIONS_RUNNER_CONTAINER_HOOKS_K8S_REGISTRY_SECRET_NAME";

/** One row of the configuration table. */
export interface SettingSpec {
  /** The environment variable. */
  name: string;
  /** The default, as shown to users. */
  default: string;
  /** The accepted values, as shown to users (empty when free-form). */
  values: string;
  /** What it does, in one line. */
  meaning: string;
}

/** The maintained Kaniko fork's executor (the original project was archived in June 2025). */
export const DEFAULT_BUILDER_IMAGE = "ghcr.io/osscontainertools/kaniko:v1.26.5";

/** The builder flags kubehook sets itself, which `KUBEHOOK_BUILDER_ARGS` may not change. */
const OWN_BUILDER_FLAGS = ["dockerfile", "context", "destination", "f", "c", "d"];

/** Every variable kubehook reads, in the order the README and `--help` show them. */
export const SETTINGS: readonly SettingSpec[] = [
  {
    name: "ACTIONS_RUNNER_POD_NAME",
    default: "(required)",
    values: "a pod name",
    meaning:
      "The runner pod: names `<pod>-workflow`, `<pod>-step-<8>`, `<pod>-secret-<8>` and labels `runner-pod=<pod>`.",
  },
  {
    name: "ACTIONS_RUNNER_KUBERNETES_NAMESPACE",
    default: "kubeconfig or in-cluster namespace",
    values: "a namespace",
    meaning: "Namespace of the job pod and secrets.",
  },
  {
    name: "ACTIONS_RUNNER_CLAIM_NAME",
    default: "`<pod>-work`",
    values: "a PVC name",
    meaning: "PVC holding the runner's `_work`; setting it turns on volume mode.",
  },
  {
    name: "ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE",
    default: "(none)",
    values: "a file path",
    meaning: "Pod template YAML merged into the job pod (see templates/).",
  },
  {
    name: "ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS",
    default: "600",
    values: "a positive integer",
    meaning: "How long prepare_job waits for the job pod to be running.",
  },
  {
    name: "ACTIONS_RUNNER_USE_KUBE_SCHEDULER",
    default: "false",
    values: "true|false",
    meaning:
      "Volume mode: let the scheduler place the job pod instead of pinning it to the runner's node.",
  },
  {
    name: "ACTIONS_RUNNER_IMAGE",
    default: "ghcr.io/actions/actions-runner:latest",
    values: "an image",
    meaning:
      "Image whose `/home/runner/externals` a container of the job pod copies to `/__e`; also " +
      "the helper (with `sh`, `tar`) of container steps that run in a pod of their own.",
  },
  {
    name: "ACTIONS_RUNNER_HEARTBEAT_PERIOD_MS",
    default: "5000",
    values: "a positive integer",
    meaning: "Period of the exec heartbeat that keeps quiet steps' connections alive.",
  },
  {
    name: "ACTIONS_RUNNER_HEARTBEAT_DEADLINE_MS",
    default: "period × 12 + 1000",
    values: "a positive integer",
    meaning: "An exec connection silent for this long is treated as stalled and reopened.",
  },
  {
    name: "KUBEHOOK_WORKSPACE",
    default: "copy",
    values: "copy|volume",
    meaning: "Stream `<work>` into the pod (copy) or mount the runner's work PVC (volume).",
  },
  {
    name: "KUBEHOOK_COPY_BACK",
    default: "changed",
    values: "changed|all|none",
    meaning: "What cleanup_job copies from the pod's `/__w` back to the runner.",
  },
  {
    name: "KUBEHOOK_TRANSFER_COMPRESSION",
    default: "auto",
    values: "auto|gzip|none",
    meaning: "Gzip workspace transfers; auto compresses only when it pays off.",
  },
  {
    name: "KUBEHOOK_MAX_CPU",
    default: "(no cap)",
    values: "a CPU quantity",
    meaning: "The most CPU a workflow's `options` (`--cpus`) may ask for; more is lowered to it.",
  },
  {
    name: "KUBEHOOK_MAX_MEMORY",
    default: "(no cap)",
    values: "a memory quantity",
    meaning: "The most memory `options` (`--memory`, `--memory-reservation`) may ask for.",
  },
  {
    name: "KUBEHOOK_ALLOW_PRIVILEGED",
    default: "false",
    values: "true|false",
    meaning:
      "Let `options` use `--privileged` and `--cap-add`; otherwise such a container is refused.",
  },
  {
    name: "KUBEHOOK_POD_SECURITY",
    default: "auto",
    values: "auto|baseline|restricted",
    meaning:
      "The Pod Security standard pods are made for; `auto` reads the namespace's `pod-security.kubernetes.io/enforce` label (needs `get` on namespaces), else baseline.",
  },
  {
    name: "KUBEHOOK_RUN_AS_USER",
    default: "1001:1001",
    values: "uid[:gid]",
    meaning:
      "Under `restricted`: the non-root user and group of containers whose image, options and template set none.",
  },
  {
    name: REGISTRY_HOST,
    default: "(none: Dockerfile actions fail)",
    values: "host[:port][/path]",
    meaning:
      "Registry that Dockerfile actions are built into and pulled from, e.g. `ghcr.io/OWNER` (see Dockerfile actions).",
  },
  {
    name: `${REGISTRY_HOST}_PUSH`,
    default: "the registry host",
    values: "host[:port][/path]",
    meaning:
      "The same registry as the builder pod and the runner reach it (e.g. a Service name), when that differs.",
  },
  {
    name: `${REGISTRY_HOST}_PULL`,
    default: "the registry host",
    values: "host[:port][/path]",
    meaning:
      "The same registry as the kubelet reaches it (e.g. `localhost:<NodePort>`), when that differs.",
  },
  {
    name: REGISTRY_SECRET_NAME,
    default: "(none: Dockerfile actions fail)",
    values: "a Secret name",
    meaning:
      "A `kubernetes.io/dockerconfigjson` Secret in the namespace: the builder pushes with it, step pods pull with it.",
  },
  {
    name: "KUBEHOOK_REGISTRY_INSECURE",
    default: "false",
    values: "true|false",
    meaning: "The build registry speaks plain HTTP (a cluster-local registry without TLS).",
  },
  {
    name: "KUBEHOOK_BUILDER_IMAGE",
    default: `\`${DEFAULT_BUILDER_IMAGE}\``,
    values: "an image",
    meaning: "Kaniko executor image of the pods that build Dockerfile actions.",
  },
  {
    name: "KUBEHOOK_BUILDER_ARGS",
    default: "(none)",
    values: "flags separated by spaces",
    meaning:
      "Added to every build's Kaniko flags, e.g. `--registry-mirror=mirror.example.com --cache=true` (a value cannot hold a space).",
  },
  {
    name: "RUNNER_DEBUG",
    default: "(set by the runner)",
    values: "1",
    meaning: "Debug logging (also `ACTIONS_STEP_DEBUG=true`): kubehook prints `::debug::` details.",
  },
];

/** A variable holds a value kubehook cannot use. */
export class SettingsError extends Error {
  /** The environment variable at fault. */
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(message);
    this.name = "SettingsError";
    this.variable = variable;
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads the settings as {@link readSettings} does, but reports every variable it cannot use
 * instead of stopping at the first: each one is read as unset (its default) for the rest, so what
 * does not depend on it can still be checked. For `kubehook doctor`. */
export function readEverySetting(env: Env): { settings?: Settings; problems: SettingsError[] } {
  const problems: SettingsError[] = [];
  const rest: Record<string, string | undefined> = { ...env };
  while (true) {
    try {
      return { settings: readSettings(rest), problems };
    } catch (error) {
      if (!(error instanceof SettingsError) || rest[error.variable] === undefined) {
        return { problems: [...problems, error as SettingsError] };
      }
      problems.push(error);
      delete rest[error.variable];
    }
  }
}

/** Reads and validates every setting from `env` (e.g. `Deno.env.toObject()`); throws
 * {@link SettingsError} naming the variable, its value and the accepted values. */
export function readSettings(env: Env): Settings {
  const runnerPodName = text(env, "ACTIONS_RUNNER_POD_NAME");
  if (runnerPodName === undefined) {
    throw new SettingsError(
      "ACTIONS_RUNNER_POD_NAME",
      "ACTIONS_RUNNER_POD_NAME is not set: kubehook needs the runner pod's name to name and label the job pod. " +
        "Set it from the pod's metadata.name (ARC does this for you: `valueFrom.fieldRef.fieldPath: metadata.name`).",
    );
  }
  const explicitClaim = text(env, "ACTIONS_RUNNER_CLAIM_NAME");
  const period = positiveInt(env, "ACTIONS_RUNNER_HEARTBEAT_PERIOD_MS", 5000);
  const debugFlag = text(env, "RUNNER_DEBUG") === "1" ||
    text(env, "ACTIONS_STEP_DEBUG")?.toLowerCase() === "true";
  return {
    runnerPodName,
    namespace: text(env, "ACTIONS_RUNNER_KUBERNETES_NAMESPACE"),
    claimName: explicitClaim ?? `${runnerPodName}-work`,
    templatePath: text(env, "ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE"),
    prepareJobTimeoutSeconds: positiveInt(env, "ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS", 600),
    useKubeScheduler: bool(env, "ACTIONS_RUNNER_USE_KUBE_SCHEDULER", false),
    runnerImage: text(env, "ACTIONS_RUNNER_IMAGE") ?? "ghcr.io/actions/actions-runner:latest",
    heartbeatPeriodMs: period,
    heartbeatDeadlineMs: positiveInt(
      env,
      "ACTIONS_RUNNER_HEARTBEAT_DEADLINE_MS",
      period * 12 + 1000,
    ),
    // Setting the claim name is how upstream users asked for the shared volume, so it implies it.
    workspace: oneOf(
      env,
      "KUBEHOOK_WORKSPACE",
      ["copy", "volume"],
      explicitClaim ? "volume" : "copy",
    ),
    copyBack: oneOf(env, "KUBEHOOK_COPY_BACK", ["changed", "all", "none"], "changed"),
    compression: oneOf(env, "KUBEHOOK_TRANSFER_COMPRESSION", ["auto", "gzip", "none"], "auto"),
    debug: debugFlag,
    maxCpu: quantity(env, "KUBEHOOK_MAX_CPU", cpuMillis, "a CPU quantity such as 2 or 1500m"),
    maxMemory: quantity(
      env,
      "KUBEHOOK_MAX_MEMORY",
      memoryBytes,
      "a memory quantity such as 4Gi or 512Mi",
    ),
    allowPrivileged: bool(env, "KUBEHOOK_ALLOW_PRIVILEGED", false),
    podSecurity: oneOf(env, "KUBEHOOK_POD_SECURITY", ["auto", "baseline", "restricted"], "auto"),
    runAsUser: nonRootUser(env, "KUBEHOOK_RUN_AS_USER"),
    registry: registrySettings(env),
    builderImage: text(env, "KUBEHOOK_BUILDER_IMAGE") ?? DEFAULT_BUILDER_IMAGE,
    builderArgs: builderArgs(env, "KUBEHOOK_BUILDER_ARGS"),
  };
}

/** Flags only (`--name[=value]`), none of those kubehook sets for each build. */
function builderArgs(env: Env, name: string): string[] {
  const args = text(env, name)?.split(/\s+/) ?? [];
  for (const arg of args) {
    const flag = /^--?([^=]+)/.exec(arg)?.[1];
    if (flag === undefined) {
      throw invalid(
        name,
        arg,
        "flags such as --registry-mirror=mirror.example.com, separated by spaces (a flag's " +
          "value goes after =)",
      );
    }
    if (OWN_BUILDER_FLAGS.includes(flag)) {
      throw invalid(
        name,
        arg,
        "flags other than --dockerfile, --context and --destination, which kubehook sets for " +
          "each build",
      );
    }
  }
  return args;
}

/** The build registry, or undefined when neither host nor secret is set; half a setup is an error
 * only when a Dockerfile action needs it (run_container_step says what is missing). */
function registrySettings(env: Env): RegistrySettings | undefined {
  const host = registryHost(env, REGISTRY_HOST);
  const push = registryHost(env, `${REGISTRY_HOST}_PUSH`) ?? host;
  const pull = registryHost(env, `${REGISTRY_HOST}_PULL`) ?? host;
  const secretName = text(env, REGISTRY_SECRET_NAME);
  const insecure = bool(env, "KUBEHOOK_REGISTRY_INSECURE", false);
  if (!push || !pull || !secretName) return undefined;
  return { push, pull, secretName, insecure };
}

/** `host[:port][/path]`, without a scheme or a trailing slash. */
function registryHost(env: Env, name: string): string | undefined {
  const value = text(env, name)?.replace(/\/+$/, "");
  if (value === undefined) return undefined;
  if (!/^[a-zA-Z0-9.-]+(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/.test(value)) {
    throw invalid(
      name,
      value,
      "a registry host with an optional port and lowercase path and no scheme, such as " +
        "ghcr.io/my-org or registry.example.com:5000/ci",
    );
  }
  return value;
}

function nonRootUser(env: Env, name: string): { uid: number; gid: number } {
  const value = text(env, name);
  if (value === undefined) return { uid: 1001, gid: 1001 };
  const match = /^(\d+)(?::(\d+))?$/.exec(value);
  const [uid, gid] = match ? [Number(match[1]), Number(match[2] ?? match[1])] : [0, 0];
  if (!match || uid === 0 || uid > 2 ** 31 - 1 || gid > 2 ** 31 - 1) {
    throw invalid(
      name,
      value,
      "a non-root uid, optionally with a gid (uid:gid), such as 1001:1001",
    );
  }
  return { uid, gid };
}

function quantity(
  env: Env,
  name: string,
  parse: (text: string) => number | undefined,
  accepted: string,
): string | undefined {
  const value = text(env, name);
  if (value !== undefined && parse(value) === undefined) throw invalid(name, value, accepted);
  return value;
}

/** `SETTINGS` as a Markdown table (variable, default, values, meaning) for the README. */
export function settingsMarkdown(): string {
  const rows = SETTINGS.map((s) =>
    `| \`${s.name}\` | ${s.default} | ${s.values.replaceAll("|", "\\|")} | ${
      s.meaning.replaceAll("|", "\\|")
    } |`
  );
  return ["| variable | default | values | meaning |", "|---|---|---|---|", ...rows].join("\n");
}

/** `SETTINGS` as plain text for `kubehook --help`: one variable per paragraph. */
export function settingsHelp(): string {
  return SETTINGS.map((s) =>
    `  ${s.name}\n      ${s.meaning.replaceAll("`", "")}\n      default: ${
      s.default.replaceAll("`", "")
    }; values: ${s.values}`
  ).join("\n");
}

/** The variable's value, or undefined when unset or blank (the runner passes empty strings through). */
function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const value = text(env, name);
  if (value === undefined) return fallback;
  if (!/^[0-9]+$/.test(value) || Number(value) <= 0 || !Number.isSafeInteger(Number(value))) {
    throw invalid(name, value, "a positive integer");
  }
  return Number(value);
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const value = text(env, name);
  if (value === undefined) return fallback;
  const lower = value.toLowerCase();
  if (lower === "true" || lower === "1") return true;
  if (lower === "false" || lower === "0") return false;
  throw invalid(name, value, "true or false");
}

function oneOf<T extends string>(env: Env, name: string, accepted: readonly T[], fallback: T): T {
  const value = text(env, name);
  if (value === undefined) return fallback;
  if ((accepted as readonly string[]).includes(value)) return value as T;
  throw invalid(name, value, accepted.join(", "));
}

function invalid(name: string, value: string, accepted: string): SettingsError {
  return new SettingsError(
    name,
    `${name}=${JSON.stringify(value)} is not valid: use ${accepted}. Fix the runner's environment.`,
  );
}
