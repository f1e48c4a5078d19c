/**
 * The hook invocation the runner writes on stdin (protocol §2): one JSON object, camelCase, nulls
 * included, unknown fields ignored. {@link parseInvocation} validates it and returns a discriminated
 * union by `command`, so each hook gets typed arguments; bad input throws an {@link InputError} naming
 * the JSON field path and what was expected.
 *
 * @example
 * ```ts
 * const invocation = parseInvocation(await new Response(Deno.stdin.readable).text());
 * if (invocation.command === "run_script_step") console.log(invocation.args.entryPoint);
 * ```
 * @module
 */

/** Registry credentials of an image; `serverUrl` is "" for Docker Hub. */
export interface Registry {
  username: string;
  password: string;
  serverUrl: string;
}

/** A host path the runner would bind into a container. */
export interface Mount {
  sourceVolumePath: string;
  targetVolumePath: string;
  readOnly: boolean;
}

/** The job container, a service, or a container step (protocol §2, "Container shape"). */
export interface Container {
  /** The image; null only for a Dockerfile action (then `dockerfile` is set). */
  image: string | null;
  /** Absolute host path of the Dockerfile of a Dockerfile action, else null. */
  dockerfile: string | null;
  entryPoint: string | null;
  entryPointArgs: string[];
  workingDirectory: string | null;
  /** Docker CLI options from the workflow; Kubernetes has no equivalent (use a pod template). */
  createOptions: string | null;
  registry: Registry | null;
  environmentVariables: Record<string, string>;
  /** Docker-style `[hostPort:]containerPort[/protocol]` strings. */
  portMappings: string[];
  systemMountVolumes: Mount[];
  userMountVolumes: Mount[];
}

/** A container as the runner describes one that sets nothing but its image (every field present,
 * nulls included), with `over` on top. */
export function containerOf(image: string, over: Partial<Container> = {}): Container {
  return {
    image,
    dockerfile: null,
    entryPoint: null,
    entryPointArgs: [],
    workingDirectory: null,
    createOptions: null,
    registry: null,
    environmentVariables: {},
    portMappings: [],
    systemMountVolumes: [],
    userMountVolumes: [],
    ...over,
  };
}

/** The arguments of `run_script_step`: what to run in the job container and how. */
export interface ScriptStepArgs {
  entryPoint: string;
  /** Exact argument strings, including literal quotes the runner added. */
  entryPointArgs: string[];
  /** Container paths already; may hold secrets and any characters. */
  environmentVariables: Record<string, string>;
  /** Newest first. */
  prependPath: string[];
  workingDirectory: string;
}

/** The last `state` a response returned, or null. */
export type HookState = Record<string, unknown> | null;

interface Envelope {
  /** Host path of the (empty) response file the runner created. */
  responseFile: string;
  state: HookState;
}

/** One hook invocation, by command. */
export type Invocation =
  | Envelope & {
    command: "prepare_job";
    args: { container: Container | null; services: Container[] };
  }
  | Envelope & { command: "run_script_step"; args: ScriptStepArgs }
  | Envelope & { command: "run_container_step"; args: Container }
  | Envelope & { command: "cleanup_job"; args: Record<string, never> };

/** The hook commands, as the runner spells them. */
export const COMMANDS = [
  "prepare_job",
  "run_script_step",
  "run_container_step",
  "cleanup_job",
] as const;

/** The runner's input is not what the protocol says. */
export class InputError extends Error {
  /** JSON path of the offending field, e.g. `args.container.image` ("" for the whole input). */
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = "InputError";
    this.field = field;
  }
}

/** Parses and validates the stdin text of one hook invocation. */
export function parseInvocation(text: string): Invocation {
  if (text.trim() === "") {
    throw new InputError(
      "",
      "nothing arrived on stdin: the GitHub Actions runner runs this hook and writes the hook " +
        "invocation as JSON on its stdin. Point the runner's ACTIONS_RUNNER_CONTAINER_HOOKS at the " +
        "hook.sh installed beside the kubehook binary (e.g. /home/runner/k8s/hook.sh); for the " +
        "other commands see `kubehook --help`.",
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InputError(
      "",
      `kubehook's stdin is not valid JSON (${(error as Error).message}): ` +
        "it must be the runner's hook invocation. See `kubehook --help`.",
    );
  }
  const root = object(json, "");
  const command = str(root.command, "command");
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new InputError(
      "command",
      `Unknown hook command ${JSON.stringify(command)} in field "command": expected one of ${
        COMMANDS.join(", ")
      }. Is the runner newer than kubehook?`,
    );
  }
  const envelope = {
    responseFile: str(root.responseFile, "responseFile"),
    state: root.state == null ? null : object(root.state, "state"),
  };
  const args = root.args ?? {};
  switch (command as Invocation["command"]) {
    case "prepare_job": {
      const a = object(args, "args");
      return {
        ...envelope,
        command: "prepare_job",
        args: {
          container: a.container == null ? null : container(a.container, "args.container", true),
          services: list(a.services, "args.services", (s, p) => container(s, p, true)),
        },
      };
    }
    case "run_script_step":
      return { ...envelope, command: "run_script_step", args: scriptStep(args) };
    case "run_container_step": {
      const c = container(args, "args", false);
      if (c.image === null && c.dockerfile === null) {
        throw new InputError(
          "args.image",
          `Field "args.image" is null and so is "args.dockerfile": expected one of them.`,
        );
      }
      return { ...envelope, command: "run_container_step", args: c };
    }
    case "cleanup_job":
      return { ...envelope, command: "cleanup_job", args: {} };
  }
}

function scriptStep(value: unknown): ScriptStepArgs {
  const a = object(value, "args");
  return {
    entryPoint: str(a.entryPoint, "args.entryPoint"),
    entryPointArgs: args(a.entryPointArgs, "args.entryPointArgs"),
    environmentVariables: env(a.environmentVariables, "args.environmentVariables"),
    // Runners up to 2.293 sent one PATH-style string instead of a list.
    prependPath: typeof a.prependPath === "string"
      ? a.prependPath.split(":").filter((p) => p !== "")
      : list(a.prependPath, "args.prependPath", str),
    workingDirectory: str(a.workingDirectory, "args.workingDirectory"),
  };
}

function container(value: unknown, path: string, imageRequired: boolean): Container {
  const c = object(value, path);
  const image = imageRequired ? str(c.image, `${path}.image`) : optStr(c.image, `${path}.image`);
  return {
    image,
    dockerfile: optStr(c.dockerfile, `${path}.dockerfile`),
    entryPoint: optStr(c.entryPoint, `${path}.entryPoint`),
    entryPointArgs: args(c.entryPointArgs, `${path}.entryPointArgs`),
    workingDirectory: optStr(c.workingDirectory, `${path}.workingDirectory`),
    createOptions: optStr(c.createOptions, `${path}.createOptions`),
    registry: c.registry == null ? null : registry(c.registry, `${path}.registry`),
    environmentVariables: env(c.environmentVariables, `${path}.environmentVariables`),
    portMappings: list(c.portMappings, `${path}.portMappings`, str),
    systemMountVolumes: list(c.systemMountVolumes, `${path}.systemMountVolumes`, mount),
    userMountVolumes: list(c.userMountVolumes, `${path}.userMountVolumes`, mount),
  };
}

/** The runner sends a registry object with null fields where a container has no credentials
 * (container actions always): that is no registry. */
function registry(value: unknown, path: string): Registry | null {
  const r = object(value, path);
  const username = optStr(r.username, `${path}.username`) ?? "";
  const password = optStr(r.password, `${path}.password`) ?? "";
  if (username === "" && password === "") return null;
  return { username, password, serverUrl: optStr(r.serverUrl, `${path}.serverUrl`) ?? "" };
}

function mount(value: unknown, path: string): Mount {
  const m = object(value, path);
  const readOnly = m.readOnly ?? false;
  if (typeof readOnly !== "boolean") throw expected(`${path}.readOnly`, "true or false", readOnly);
  return {
    sourceVolumePath: str(m.sourceVolumePath, `${path}.sourceVolumePath`),
    targetVolumePath: str(m.targetVolumePath, `${path}.targetVolumePath`),
    readOnly,
  };
}

/** Argument lists; older runners sent one string split on spaces, which we split the same way. */
function args(value: unknown, path: string): string[] {
  if (typeof value === "string") return value.split(" ").filter((a) => a !== "");
  return list(value, path, str);
}

/** Environment maps; a null value (a workflow `env:` entry without value) becomes "". */
function env(value: unknown, path: string): Record<string, string> {
  if (value == null) return {};
  const o = object(value, path);
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(o)) {
    out[name] = v == null ? "" : str(v, `${path}.${name}`);
  }
  return out;
}

function list<T>(value: unknown, path: string, item: (v: unknown, p: string) => T): T[] {
  if (value == null) return [];
  if (!Array.isArray(value)) throw expected(path, "a list", value);
  return value.map((v, i) => item(v, `${path}[${i}]`));
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw expected(path, "an object", value);
  }
  return value as Record<string, unknown>;
}

function str(value: unknown, path: string): string {
  if (typeof value !== "string") throw expected(path, "a string", value);
  return value;
}

function optStr(value: unknown, path: string): string | null {
  return value == null ? null : str(value, path);
}

function expected(path: string, what: string, got: unknown): InputError {
  const shown = got === undefined ? "missing" : `got ${describe(got)}`;
  return new InputError(
    path,
    `Invalid hook input: ${path ? `field "${path}"` : "the input"} must be ${what} (${shown}). ` +
      "The runner and kubehook disagree on the protocol; check that the runner version is supported.",
  );
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return `${typeof value} ${String(value)}`;
}
