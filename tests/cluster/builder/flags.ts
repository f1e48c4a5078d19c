/**
 * The Kaniko executor's command line, as the builder pod passes it: `--flag=value` or
 * `--flag value`, repeatable `--destination`, `--build-arg` and `--registry-mirror`, boolean
 * flags that also take `=true`/`=false`. An unknown flag is refused with cobra's wording (`Error: unknown flag: --x`),
 * so a typo in the hook's pod spec fails the build instead of being ignored.
 *
 * @example
 * ```ts
 * parseFlags(["--dockerfile=Dockerfile", "--context=tar://stdin", "--destination=r:5000/a:1"]);
 * ```
 * @module
 */

/** What the executor was asked to do. */
export interface BuildOptions {
  /** The Dockerfile's path, relative to the context unless absolute. */
  dockerfile: string;
  /** `tar://stdin` (a gzip tar on stdin) or `dir:///path` (or a bare path). */
  context: string;
  destinations: string[];
  /** `NAME=value` (or `NAME`, taking the value from the environment, as Kaniko does). */
  buildArgs: string[];
  /** Push over plain HTTP. */
  insecure: boolean;
  /** Pull over plain HTTP. */
  insecurePull: boolean;
  /** Registries spoken to over plain HTTP, push and pull (`--insecure-registry`, repeatable). */
  insecureRegistries: string[];
  /** Where Docker Hub images are pulled from first, in order (`--registry-mirror`, repeatable);
   * then from Docker Hub itself unless {@link skipDefaultRegistryFallback}. */
  registryMirrors: string[];
  /** `--skip-default-registry-fallback`: an image no mirror has fails instead. */
  skipDefaultRegistryFallback: boolean;
  /** Build without pushing (`--no-push`). */
  noPush: boolean;
  /** Where to write the pushed image's digest. */
  digestFile?: string;
  verbosity: string;
  /** Build only up to this stage (`--target`). */
  target?: string;
}

/** A command line the executor refuses; `message` is what cobra prints. */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlagError";
  }
}

type Kind = "string" | "list" | "bool";
/** Flags that are accepted and have no effect here (caching, snapshot tuning, platform). */
const IGNORED: Record<string, Kind> = {
  "cache": "bool",
  "cache-repo": "string",
  "cache-ttl": "string",
  "cache-dir": "string",
  "cache-copy-layers": "bool",
  "cache-run-layers": "bool",
  "cleanup": "bool",
  "single-snapshot": "bool",
  "snapshot-mode": "string",
  "use-new-run": "bool",
  "compressed-caching": "bool",
  "skip-tls-verify": "bool",
  "skip-tls-verify-pull": "bool",
  "skip-push-permission-check": "bool",
  "custom-platform": "string",
  "reproducible": "bool",
  "label": "list",
  "log-format": "string",
  "log-timestamp": "bool",
  "ignore-path": "list",
};
const KNOWN: Record<string, Kind> = {
  "dockerfile": "string",
  "context": "string",
  "destination": "list",
  "build-arg": "list",
  "insecure": "bool",
  "insecure-pull": "bool",
  "insecure-registry": "list",
  "registry-mirror": "list",
  "skip-default-registry-fallback": "bool",
  "no-push": "bool",
  "digest-file": "string",
  "verbosity": "string",
  "target": "string",
  ...IGNORED,
};
/** Kaniko's one-letter aliases. */
const SHORT: Record<string, string> = {
  f: "dockerfile",
  c: "context",
  d: "destination",
  v: "verbosity",
};

/** Parses the executor's arguments; throws {@link FlagError} as cobra words it. */
export function parseFlags(args: readonly string[]): BuildOptions {
  const values = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const long = arg.match(/^--([^=]+)(?:=(.*))?$/s);
    const short = arg.match(/^-([a-zA-Z])(?:=?(.+))?$/s);
    if (!long && !short) {
      throw new FlagError(`Error: unknown command "${arg}" for "executor"`);
    }
    const name = long ? long[1] : SHORT[short![1]];
    if (!name || !KNOWN[name]) {
      throw new FlagError(
        long
          ? `Error: unknown flag: --${long[1]}`
          : `Error: unknown shorthand flag: '${short![1]}' in ${arg}`,
      );
    }
    let value = long ? long[2] : short![2];
    if (value === undefined) {
      if (KNOWN[name] === "bool") value = "true";
      else if (i + 1 < args.length) value = args[++i];
      else throw new FlagError(`Error: flag needs an argument: --${name}`);
    }
    if (KNOWN[name] === "bool" && value !== "true" && value !== "false") {
      throw new FlagError(
        `Error: invalid argument "${value}" for "--${name}" flag: strconv.ParseBool: parsing ` +
          `"${value}": invalid syntax`,
      );
    }
    values.set(name, [...(values.get(name) ?? []), value]);
  }
  const last = (name: string) => values.get(name)?.at(-1);
  const bool = (name: string) => last(name) === "true";
  const destinations = values.get("destination") ?? [];
  if (destinations.length === 0 && !bool("no-push")) {
    throw new FlagError(
      "Error: you must provide --destination, or use --no-push",
    );
  }
  return {
    dockerfile: last("dockerfile") ?? "Dockerfile",
    context: last("context") ?? "/workspace/",
    destinations,
    buildArgs: values.get("build-arg") ?? [],
    insecure: bool("insecure"),
    insecurePull: bool("insecure-pull"),
    insecureRegistries: values.get("insecure-registry") ?? [],
    registryMirrors: values.get("registry-mirror") ?? [],
    skipDefaultRegistryFallback: bool("skip-default-registry-fallback"),
    noPush: bool("no-push"),
    ...(last("digest-file") ? { digestFile: last("digest-file") } : {}),
    verbosity: last("verbosity") ?? "info",
    ...(last("target") ? { target: last("target") } : {}),
  };
}
