/**
 * A container's Docker `options:` (the runner's `createOptions`) read as `docker create` reads
 * them, and what each means for a Kubernetes container: limits and requests, the user, privileges
 * and capabilities, environment, entrypoint and working directory, shared memory, host name and
 * extra hosts, labels, and the health check (a readiness probe). Options Kubernetes cannot honour
 * become warnings that name the option and the pod template field to use instead; unknown ones
 * too. Pure: the caller supplies the environment for `-e NAME` and the text of `--env-file`s.
 *
 * @example
 * ```ts
 * const options = parseDockerOptions("--cpus 2 --memory 4g --health-cmd 'pg_isready'", "service postgres");
 * options.resources; // { limits: { cpu: "2", memory: "4Gi" } }
 * options.health?.command; // ["/bin/sh", "-c", "pg_isready"]
 * ```
 * @module
 */
import { shellWords } from "../runner/command_line.ts";

/** What the options ask for. */
export interface DockerOptions {
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  user?: { uid: number; gid?: number };
  privileged?: boolean;
  capAdd: string[];
  capDrop: string[];
  readOnlyRootFilesystem?: boolean;
  /** `-e NAME=value`, `-e NAME` (from the runner's environment) and `--env-file` lines. */
  env: Record<string, string>;
  entrypoint?: string;
  workdir?: string;
  /** `--shm-size`, as a Kubernetes quantity. */
  shmSize?: string;
  hostname?: string;
  addHosts: { ip: string; hostname: string }[];
  labels: Record<string, string>;
  health?: {
    command: string[];
    periodSeconds?: number;
    timeoutSeconds?: number;
    failureThreshold?: number;
    /** Docker's start period: failures in it do not count. */
    startPeriodSeconds?: number;
  };
  /** One sentence each: what was not honoured and what to use instead. */
  warnings: string[];
}

/** What parsing needs from outside. */
export interface DockerOptionsContext {
  /** The runner's environment, for `-e NAME` without a value. */
  env?: Record<string, string | undefined>;
  /** Reads an `--env-file` (a host path); default: the option is not honoured. */
  readEnvFile?: (path: string) => string;
}

/** Options Kubernetes has no place for in a container, and where to say it instead. */
const NOT_HONOURED: Record<string, string> = {
  "--network": "pods share one network; services are on localhost",
  "--net": "pods share one network; services are on localhost",
  "--network-alias": "services are reached by their image's short name",
  "--gpus": "request GPUs in the pod template's resources.limits",
  "-v": "mount volumes through the pod template's volumes and volumeMounts",
  "--volume": "mount volumes through the pod template's volumes and volumeMounts",
  "--mount": "mount volumes through the pod template's volumes and volumeMounts",
  "-p": "publish ports with the workflow's ports list",
  "--publish": "publish ports with the workflow's ports list",
  "--device": "give devices through a device plugin and the pod template",
  "--dns": "set spec.dnsConfig in the pod template",
  "--dns-search": "set spec.dnsConfig in the pod template",
  "--dns-option": "set spec.dnsConfig in the pod template",
  "--restart": "kubehook decides how its containers restart",
  "--name": "kubehook names its containers",
  "--ipc": "set spec.hostIPC in the pod template",
  "--pid": "set spec.shareProcessNamespace in the pod template",
  "--ulimit": "Kubernetes has no per-container ulimits",
  "--log-driver": "the kubelet keeps container logs",
  "--log-opt": "the kubelet keeps container logs",
  "--platform": "select the node's platform with a nodeSelector in the pod template",
  "--runtime": "set spec.runtimeClassName in the pod template",
  "--security-opt": "set securityContext in the pod template",
};
/** Options that take no value. */
const BOOLEAN = new Set(["--privileged", "--read-only", "--init", "--rm", "-t", "--tty", "-i"]
  .concat(["--interactive", "-d", "--detach", "--no-healthcheck"]));
/** Boolean options that mean nothing for a pod's container (said once, quietly). */
const IGNORED = new Set(["--init", "--rm", "-t", "--tty", "-i", "--interactive", "-d", "--detach"]);

/** Parses `text` (may be null or empty); `owner` names the container in warnings. */
export function parseDockerOptions(
  text: string | null,
  owner: string,
  context: DockerOptionsContext = {},
): DockerOptions {
  const options: DockerOptions = {
    capAdd: [],
    capDrop: [],
    env: {},
    addHosts: [],
    labels: {},
    warnings: [],
  };
  if (!text?.trim()) return options;
  let words: string[];
  try {
    words = shellWords(text);
  } catch (error) {
    options.warnings.push(
      `The ${owner}'s options could not be read (${(error as Error).message}): none of them is ` +
        "applied. Fix the quoting of the workflow's options.",
    );
    return options;
  }
  const warn = (text: string) => options.warnings.push(`The ${owner}'s option ${text}`);
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (!word.startsWith("-")) {
      warn(`"${word}" is not an option (an image or command belongs elsewhere): it is ignored.`);
      continue;
    }
    // Short flags that take no value may come together (`-it`).
    if (/^-[a-z]{2,}$/.test(word) && [...word.slice(1)].every((c) => BOOLEAN.has(`-${c}`))) {
      continue;
    }
    const eq = word.indexOf("=");
    const flag = word.startsWith("--") && eq > 0 ? word.slice(0, eq) : word;
    let value: string | undefined = word.startsWith("--") && eq > 0
      ? word.slice(eq + 1)
      : undefined;
    if (value === undefined && !BOOLEAN.has(flag)) {
      value = words[++i];
      if (value === undefined) {
        warn(`${flag} has no value: it is ignored.`);
        break;
      }
    }
    const v = value ?? "";
    if (NOT_HONOURED[flag]) {
      warn(`${flag} cannot be honoured on Kubernetes (${NOT_HONOURED[flag]}).`);
      continue;
    }
    if (IGNORED.has(flag)) continue;
    switch (flag) {
      case "--cpus":
        if (!/^\d+(\.\d+)?$/.test(v)) warn(`--cpus ${v} is not a number of CPUs: it is ignored.`);
        else setResource(options, "limits", "cpu", v);
        break;
      case "-m":
      case "--memory":
      case "--memory-reservation": {
        const quantity = memoryQuantity(v);
        if (!quantity) warn(`${flag} ${v} is not a size like 512m or 4g: it is ignored.`);
        else {setResource(
            options,
            flag === "--memory-reservation" ? "requests" : "limits",
            "memory",
            quantity,
          );}
        break;
      }
      case "-u":
      case "--user": {
        const match = /^(\d+)(?::(\d+))?$/.exec(v);
        if (!match) {
          warn(
            `--user ${v} names a user, not a uid: set securityContext.runAsUser in the pod template.`,
          );
        } else {
          options.user = {
            uid: Number(match[1]),
            ...(match[2] !== undefined ? { gid: Number(match[2]) } : {}),
          };
        }
        break;
      }
      case "--privileged":
        options.privileged = true;
        break;
      case "--cap-add":
        options.capAdd.push(...v.split(",").filter(Boolean).map(capability));
        break;
      case "--cap-drop":
        options.capDrop.push(...v.split(",").filter(Boolean).map(capability));
        break;
      case "--read-only":
        options.readOnlyRootFilesystem = true;
        break;
      case "-e":
      case "--env": {
        const cut = v.indexOf("=");
        if (cut > 0) options.env[v.slice(0, cut)] = v.slice(cut + 1);
        else if (context.env?.[v] !== undefined) options.env[v] = context.env[v]!;
        break;
      }
      case "--env-file":
        if (!context.readEnvFile) warn(`--env-file ${v} cannot be read here: it is ignored.`);
        else {
          try {
            Object.assign(options.env, parseEnvFile(context.readEnvFile(v), context.env));
          } catch (error) {
            warn(`--env-file ${v} could not be read (${(error as Error).message}): it is ignored.`);
          }
        }
        break;
      case "--entrypoint":
        options.entrypoint = v;
        break;
      case "-w":
      case "--workdir":
        options.workdir = v;
        break;
      case "--shm-size": {
        const quantity = memoryQuantity(v);
        if (!quantity) warn(`--shm-size ${v} is not a size like 1g: it is ignored.`);
        else options.shmSize = quantity;
        break;
      }
      case "-h":
      case "--hostname":
        options.hostname = v;
        break;
      case "--add-host": {
        const cut = v.lastIndexOf(":");
        const hostname = v.slice(0, Math.max(0, cut)), ip = v.slice(cut + 1);
        if (cut <= 0 || !ip) warn(`--add-host ${v} is not host:ip: it is ignored.`);
        else options.addHosts.push({ ip, hostname });
        break;
      }
      case "-l":
      case "--label": {
        const cut = v.indexOf("=");
        options.labels[cut > 0 ? v.slice(0, cut) : v] = cut > 0 ? v.slice(cut + 1) : "";
        break;
      }
      case "--health-cmd":
        options.health = { ...options.health, command: ["/bin/sh", "-c", v] };
        break;
      case "--health-interval":
      case "--health-timeout":
      case "--health-start-period":
      case "--health-retries": {
        const number = flag === "--health-retries" ? integer(v) : seconds(v);
        if (number === undefined) {
          warn(
            `${flag} ${v} is not ${
              flag === "--health-retries" ? "a count" : "a duration like 10s"
            }: it is ignored.`,
          );
          break;
        }
        const field = {
          "--health-interval": "periodSeconds",
          "--health-timeout": "timeoutSeconds",
          "--health-start-period": "startPeriodSeconds",
          "--health-retries": "failureThreshold",
        }[flag] as "periodSeconds";
        options.health = {
          command: options.health?.command ?? [],
          ...options.health,
          [field]: number,
        };
        break;
      }
      case "--no-healthcheck":
        delete options.health;
        break;
      default:
        warn(`${flag} is not known to kubehook: it is ignored.`);
    }
  }
  if (options.health && options.health.command.length === 0) {
    warn("--health-interval/timeout/retries come without --health-cmd: there is no check to run.");
    delete options.health;
  }
  return options;
}

function setResource(
  options: DockerOptions,
  kind: "limits" | "requests",
  name: string,
  value: string,
): void {
  options.resources ??= {};
  options.resources[kind] = { ...options.resources[kind], [name]: value };
}

/** Docker sizes (`512m`, `4g`, `1024k`, bytes) as Kubernetes quantities (`512Mi`, `4Gi`). */
export function memoryQuantity(text: string): string | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$/i.exec(text.trim());
  if (!match) return undefined;
  const unit = match[2].toLowerCase();
  return unit === "" || unit === "b" ? match[1] : `${match[1]}${unit.toUpperCase()}i`;
}

/** Go durations (`10s`, `1m30s`, `500ms`) in whole seconds, at least 1. */
function seconds(text: string): number | undefined {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) return undefined;
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600 } as const;
  const total = parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2] as keyof typeof unit], 0);
  return Math.max(1, Math.ceil(total));
}

function integer(text: string): number | undefined {
  return /^\d+$/.test(text) ? Math.max(1, Number(text)) : undefined;
}

/** Docker writes capabilities with or without `CAP_`; Kubernetes wants them without. */
function capability(name: string): string {
  return name.toUpperCase().replace(/^CAP_/, "");
}

/** An env file as docker reads it: `NAME=value` lines (the value verbatim), `NAME` alone takes
 * the runner's value, `#` comments and blank lines are skipped. */
export function parseEnvFile(
  text: string,
  env: Record<string, string | undefined> = {},
): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trimStart();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const cut = trimmed.indexOf("=");
    if (cut > 0) vars[trimmed.slice(0, cut)] = trimmed.slice(cut + 1);
    else if (env[trimmed.trim()] !== undefined) vars[trimmed.trim()] = env[trimmed.trim()]!;
  }
  return vars;
}
