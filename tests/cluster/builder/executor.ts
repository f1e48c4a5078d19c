/**
 * The embedded cluster's Kaniko executor (`/kaniko/executor` of the
 * `ghcr.io/osscontainertools/kaniko` catalogue image): builds a Dockerfile for real and pushes the
 * image, with Kaniko's flags (flags.ts), log lines and error wording.
 *
 * The build: the context arrives (`tar://stdin`: a gzip tar on stdin, or `dir://`), the
 * destinations' push permission is checked, the Dockerfile parsed (dockerfile.ts), and each
 * stage's base pulled through its registry (Docker Hub names from each `--registry-mirror` in
 * turn, then from `index.docker.io` unless `--skip-default-registry-fallback`: there is no
 * default mirror, as in Kaniko; the embedded cluster's `registry.local:5000` mirrors the
 * catalogue's Docker Hub images) and unpacked into a root directory. `RUN` executes there in a
 * sandbox (sandbox.ts); `COPY`/`ADD` copy from the context or an earlier stage; after each of
 * them the root is walked and what changed becomes a tar+gzip layer (snapshot.ts, layer_tar.ts)
 * on top of the base's own layers. The metadata instructions edit the image config as Docker
 * does. The image is pushed to every destination (registry_push.ts).
 *
 * Output: Kaniko's `INFO[0001] ...` lines and the RUN commands' output on stdout, in order; an
 * error as Kaniko prints it on stderr, exit code 1.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { type BuildOptions, FlagError, parseFlags } from "./flags.ts";
import {
  DockerfileError,
  type Instruction,
  type Lookup,
  pairs,
  parseDockerfile,
  substitute,
  words,
} from "./dockerfile.ts";
import { unpackLayer, writeLayer } from "./layer_tar.ts";
import {
  checkPushPermission,
  DEFAULT_REGISTRY,
  type ImageName,
  parseImageName,
  pingRegistry,
  type PulledBase,
  pullImage,
  readDockerConfig,
  referenceText,
  Registries,
} from "./registry_client.ts";
import { type Blob, pushImage } from "./registry_push.ts";
import { runInSandbox } from "./sandbox.ts";
import { diff, type Walk, walk } from "./snapshot.ts";

/** A build failure, worded as Kaniko prints it. */
export class BuildError extends Error {}

/** Host programs the build runs. */
interface Tools {
  tar: string;
  cp: string;
  unshare: string;
  mount: string;
  chroot: string;
  sh: string;
}

interface Config {
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, unknown>;
  Volumes?: Record<string, unknown>;
  StopSignal?: string;
  Shell?: string[];
}

interface Stage {
  name?: string;
  root: string;
  layers: (Blob & { diffId: string })[];
  /** The whole image config; `config` inside it is edited. */
  image: Record<string, unknown> & { config: Config; history?: unknown[] };
  /** Where the base was pulled from, for cross-repository blob mounts. */
  base?: ImageName;
}

const started = Date.now();
const encoder = new TextEncoder();

/** Kaniko's log line (logrus' text format with seconds since start). */
export function info(message: string, level = "INFO"): Promise<void> {
  const seconds = String(Math.floor((Date.now() - started) / 1000)).padStart(4, "0");
  return write(Deno.stdout, `${level}[${seconds}] ${message}\n`);
}

async function write(to: { write(p: Uint8Array): Promise<number> }, text: string | Uint8Array) {
  const bytes = typeof text === "string" ? encoder.encode(text) : text;
  for (let at = 0; at < bytes.length;) at += await to.write(bytes.subarray(at));
}

/** Runs the executor with `args`; resolves the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let options: BuildOptions;
  try {
    options = parseFlags(args);
  } catch (error) {
    if (!(error instanceof FlagError)) throw error;
    await write(Deno.stderr, `${error.message}\n`);
    return 1;
  }
  const scratch = await Deno.makeTempDir({ prefix: "kaniko-" });
  try {
    await build(options, scratch);
    return 0;
  } catch (error) {
    await write(Deno.stderr, `${(error as Error).message}\n`);
    return 1;
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}

async function build(options: BuildOptions, scratch: string): Promise<void> {
  const tools = findTools();
  const registries = new Registries(
    await credentials(),
    options.insecure,
    options.insecurePull,
    options.insecureRegistries,
  );
  const context = await receiveContext(options.context, `${scratch}/context`, tools);
  const dockerfilePath = options.dockerfile.startsWith("/")
    ? options.dockerfile
    : `${context}/${options.dockerfile}`;
  const dockerfile = await Deno.readTextFile(dockerfilePath).catch(() => {
    throw new BuildError(
      `error resolving dockerfile path: please provide a valid path to a Dockerfile within the ` +
        `build context with --dockerfile (${options.dockerfile} is not in ${options.context})`,
    );
  });
  const destinations = options.destinations.map((d) => parseImageName(d));
  for (const destination of destinations) {
    try {
      await checkPushPermission(registries, destination);
    } catch (error) {
      throw new BuildError(
        "error checking push permissions -- make sure you entered the correct tag name, and that " +
          `you are authenticated correctly, and try again: checking push permission for ` +
          `"${destination.text}": ${(error as Error).message}`,
      );
    }
  }
  let instructions: Instruction[];
  try {
    instructions = parseDockerfile(dockerfile).instructions;
  } catch (error) {
    if (!(error instanceof DockerfileError)) throw error;
    throw new BuildError(`error building image: parsing dockerfile: ${error.message}`);
  }
  const buildArgs = new Map(options.buildArgs.map((a) => {
    const eq = a.indexOf("=");
    return eq < 0 ? [a, Deno.env.get(a) ?? ""] : [a.slice(0, eq), a.slice(eq + 1)];
  }));
  let image: Stage;
  try {
    image = await buildStages(instructions, buildArgs, {
      options,
      registries,
      tools,
      scratch,
      context,
    });
  } catch (error) {
    if (error instanceof BuildError) throw error;
    throw new BuildError(`error building image: ${(error as Error).message}`);
  }
  if (options.noPush) {
    await info("Skipping push to container registry due to --no-push flag");
    return;
  }
  const configBytes = encoder.encode(JSON.stringify(image.image));
  const config: Blob = {
    digest: `sha256:${createHash("sha256").update(configBytes).digest("hex")}`,
    size: configBytes.length,
    mediaType: "application/vnd.oci.image.config.v1+json",
    bytes: configBytes,
  };
  let digest = "";
  for (const destination of destinations) {
    await info(`Pushing image to ${destination.text}`);
    const registry = registries.registry(destination.host, true);
    const mountFrom = image.base?.host === destination.host ? image.base.repository : undefined;
    try {
      digest = await pushImage(registry, {
        repository: destination.repository,
        tags: [destination.reference],
        layers: image.layers,
        config,
      }, mountFrom);
    } catch (error) {
      throw new BuildError(
        `error pushing image: failed to push to destination ${destination.text}: ${
          (error as Error).message
        }`,
      );
    }
    const at = destination.text.search(/[:@][^/]*$/);
    await info(`Pushed ${at > 0 ? destination.text.slice(0, at) : destination.text}@${digest}`);
  }
  if (options.digestFile) await Deno.writeTextFile(options.digestFile, digest);
}

/** Docker's config.json credentials, from `$DOCKER_CONFIG` (Kaniko's `/kaniko/.docker`). */
async function credentials() {
  const dir = Deno.env.get("DOCKER_CONFIG") ?? "/kaniko/.docker";
  const text = await Deno.readTextFile(`${dir}/config.json`).catch(() => undefined);
  if (!text) return new Map();
  try {
    return readDockerConfig(text);
  } catch (error) {
    throw new BuildError(`error reading ${dir}/config.json: ${(error as Error).message}`);
  }
}

/** The build context as a directory: `tar://stdin` unpacked (gzip or plain), `dir://` as is. */
async function receiveContext(context: string, dir: string, tools: Tools): Promise<string> {
  if (context.startsWith("dir://")) return context.slice("dir://".length);
  if (!context.startsWith("tar://")) {
    if (context.includes("://")) {
      throw new BuildError(
        `error building image: getting build context: context ${context} is not supported here: use tar://stdin or dir://`,
      );
    }
    return context;
  }
  if (context !== "tar://stdin") {
    throw new BuildError(
      `error building image: getting build context: only tar://stdin is supported, not ${context}`,
    );
  }
  await info("To simulate EOF and exit, press 'Ctrl+D'");
  await Deno.mkdir(dir, { recursive: true });
  const reader = Deno.stdin.readable.getReader();
  const first = await reader.read();
  const gzip = !first.done && first.value[0] === 0x1f && first.value[1] === 0x8b;
  const tar = new Deno.Command(tools.tar, {
    args: [gzip ? "-xzf" : "-xf", "-", "-C", dir, "--no-same-owner"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const input = tar.stdin.getWriter();
  try {
    if (!first.done) await input.write(first.value);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      await input.write(value);
    }
    await input.close();
  } catch {
    // tar stopped reading: its status and message say why.
  }
  reader.releaseLock();
  const { success, stderr } = await tar.output();
  if (!success || first.done) {
    throw new BuildError(
      `error building image: getting build context: reading the tar on stdin: ${
        first.done ? "stdin was empty" : new TextDecoder().decode(stderr).trim()
      }`,
    );
  }
  return dir;
}

interface Run {
  options: BuildOptions;
  registries: Registries;
  tools: Tools;
  scratch: string;
  context: string;
}

async function buildStages(
  instructions: Instruction[],
  buildArgs: Map<string, string>,
  run: Run,
): Promise<Stage> {
  const globals = new Map<string, string | undefined>();
  const stages: Stage[] = [];
  let stage: Stage | undefined;
  let args = new Map<string, string | undefined>();
  let baseline: Walk = new Map();
  const used = new Set<string>();
  for (const ins of instructions) {
    if (!stage && ins.keyword === "ARG") {
      for (const { name, value } of pairs(ins.args, (n) => globals.get(n), false)) {
        used.add(name);
        globals.set(name, buildArgs.get(name) ?? value);
      }
      continue;
    }
    if (ins.keyword === "FROM") {
      if (run.options.target && stage?.name === run.options.target) break;
      const [from, as, name] = words(ins.args, (n) => globals.get(n));
      stage = await startStage(from, as?.toLowerCase() === "as" ? name : undefined, stages, run);
      stages.push(stage);
      args = new Map();
      baseline = await walk(stage.root);
      continue;
    }
    if (!stage) {
      throw new BuildError(
        `error building image: parsing dockerfile: dockerfile parse error on line ${ins.line}: no build stage in current context`,
      );
    }
    const config = stage.image.config;
    const env = new Map(
      (config.Env ?? []).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
    );
    const lookup: Lookup = (n) => env.get(n) ?? args.get(n);
    const text = ins.text.replace(/^\S+/, ins.keyword);
    await info(text);
    let changesFiles = false;
    switch (ins.keyword) {
      case "ARG":
        for (const { name, value } of pairs(ins.args, lookup, false)) {
          used.add(name);
          args.set(name, buildArgs.get(name) ?? value ?? globals.get(name));
        }
        break;
      case "ENV":
        for (const { name, value } of pairs(ins.args, lookup, true)) env.set(name, value ?? "");
        config.Env = [...env].map(([k, v]) => `${k}=${v}`);
        break;
      case "LABEL":
        config.Labels = { ...config.Labels };
        for (const { name, value } of pairs(ins.args, lookup, false)) {
          config.Labels[name] = value ?? "";
        }
        break;
      case "MAINTAINER":
        stage.image.author = ins.args;
        break;
      case "WORKDIR": {
        const dir = absolute(substitute(ins.args, lookup), config.WorkingDir);
        config.WorkingDir = dir;
        const target = `${stage.root}${dir}`;
        if (!await exists(target)) {
          await Deno.mkdir(target, { recursive: true });
          changesFiles = true;
        }
        break;
      }
      case "USER":
        config.User = substitute(ins.args, lookup);
        break;
      case "ENTRYPOINT":
        config.Entrypoint = command(ins, config);
        // Docker: an ENTRYPOINT clears the CMD the base image had.
        if (!instructionsSet(stage, "CMD")) config.Cmd = null;
        break;
      case "CMD":
        config.Cmd = command(ins, config);
        markSet(stage, "CMD");
        break;
      case "SHELL":
        if (!ins.json) {
          throw new BuildError(
            `error building image: parsing dockerfile: dockerfile parse error on line ${ins.line}: SHELL requires the arguments to be in JSON form`,
          );
        }
        config.Shell = ins.json;
        break;
      case "EXPOSE":
        config.ExposedPorts = { ...config.ExposedPorts };
        for (const port of words(ins.args, lookup)) {
          config.ExposedPorts[port.includes("/") ? port : `${port}/tcp`] = {};
        }
        break;
      case "VOLUME":
        config.Volumes = { ...config.Volumes };
        for (const volume of ins.json ?? words(ins.args, lookup)) config.Volumes[volume] = {};
        break;
      case "STOPSIGNAL":
        config.StopSignal = substitute(ins.args, lookup);
        break;
      case "RUN": {
        const argv = ins.json ?? [...(config.Shell ?? ["/bin/sh", "-c"]), ins.args];
        const runEnv = new Map(env);
        for (const [name, value] of args) {
          if (value !== undefined && !runEnv.has(name)) runEnv.set(name, value);
        }
        await info(`Cmd: ${argv[0]}`);
        await info(`Args: [${argv.slice(1).join(" ")}]`);
        await info(`Running: [${argv.join(" ")}]`);
        const code = await runInSandbox(
          {
            root: stage.root,
            argv,
            env: runEnv,
            workingDir: config.WorkingDir || "/",
            user: userSpec(stage.root, config.User ?? ""),
            scratch: run.scratch,
          },
          run.tools,
          (chunk) => write(Deno.stdout, chunk),
        );
        if (code !== 0) {
          throw new BuildError(
            `error building image: error building stage: failed to execute command: waiting for process to exit: exit status ${code}`,
          );
        }
        changesFiles = true;
        break;
      }
      case "COPY":
      case "ADD":
        await copy(ins, stage, stages, lookup, run);
        changesFiles = true;
        break;
      default:
        await write(
          Deno.stdout,
          `WARN[0000] ${ins.keyword} is not supported by this executor and was skipped\n`,
        );
    }
    let layered = false;
    let change: ReturnType<typeof diff> = { changed: [], deleted: [] };
    if (changesFiles) {
      await info("Taking snapshot of full filesystem...");
      const after = await walk(stage.root);
      change = diff(baseline, after);
      baseline = after;
      layered = change.changed.length + change.deleted.length > 0;
      if (!layered) await info("No files changed in this command, skipping snapshotting.");
    }
    stage.image.history = [...(stage.image.history ?? []), {
      created: new Date().toISOString(),
      created_by: text,
      ...(layered ? {} : { empty_layer: true }),
    }];
    if (layered) {
      const layer = await writeLayer(
        stage.root,
        change.changed,
        change.deleted,
        `${run.scratch}/layer-${crypto.randomUUID()}.tar.gz`,
      );
      stage.layers.push(layer);
      const rootfs = stage.image.rootfs as { diff_ids: string[] };
      rootfs.diff_ids = [...rootfs.diff_ids, layer.diffId];
    }
  }
  const unused = [...buildArgs.keys()].filter((a) => !used.has(a));
  if (unused.length) {
    await write(Deno.stdout, `WARN[0000] build args not consumed: [${unused.join(" ")}]\n`);
  }
  if (!stage) {
    throw new BuildError("error building image: parsing dockerfile: file with no instructions");
  }
  return stage;
}

const setInStage = new WeakMap<Stage, Set<string>>();
function markSet(stage: Stage, keyword: string) {
  setInStage.set(stage, new Set([...(setInStage.get(stage) ?? []), keyword]));
}
function instructionsSet(stage: Stage, keyword: string) {
  return setInStage.get(stage)?.has(keyword) ?? false;
}

/** ENTRYPOINT/CMD: the JSON form as written, the shell form through the stage's shell. */
function command(ins: Instruction, config: Config): string[] | null {
  if (ins.json) return ins.json;
  if (!ins.args) return null;
  return [...(config.Shell ?? ["/bin/sh", "-c"]), ins.args];
}

async function startStage(
  from: string,
  name: string | undefined,
  stages: Stage[],
  run: Run,
): Promise<Stage> {
  const root = `${run.scratch}/stage-${stages.length}`;
  await Deno.mkdir(root, { recursive: true });
  const earlier = stages.find((s) => s.name === from);
  if (earlier) {
    const copied = await new Deno.Command(run.tools.cp, { args: ["-a", `${earlier.root}/.`, root] })
      .output();
    if (!copied.success) {
      throw new Error(`copying stage ${from}: ${new TextDecoder().decode(copied.stderr)}`);
    }
    return {
      name,
      root,
      layers: [...earlier.layers],
      image: structuredClone(earlier.image),
      base: earlier.base,
    };
  }
  if (from === "scratch") {
    return {
      name,
      root,
      layers: [],
      image: {
        architecture: "amd64",
        os: "linux",
        config: {},
        rootfs: { type: "layers", diff_ids: [] },
      },
    };
  }
  await info(`Retrieving image manifest ${from}`);
  const blobs = `${run.scratch}/blobs`;
  await Deno.mkdir(blobs, { recursive: true });
  const { pulled, image } = await retrieveImage(parseImageName(from), run, blobs);
  const diffIds = ((pulled.config.rootfs as { diff_ids?: string[] })?.diff_ids) ?? [];
  for (const layer of pulled.layers) await unpackLayer(layer.path, root, run.tools.tar);
  return {
    name,
    root,
    layers: pulled.layers.map((l, i) => ({
      ...l,
      // The same bytes under the OCI name, since the manifest pushed is an OCI one.
      mediaType: l.mediaType.replace(
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.oci.image.layer.v1.tar+gzip",
      ),
      diffId: diffIds[i] ?? "",
    })),
    image: { ...pulled.config, config: (pulled.config.config ?? {}) as Config } as Stage["image"],
    base: image,
  };
}

/** Pulls a base image as Kaniko does: a Docker Hub name from each `--registry-mirror` in turn
 * (a failure is a warning), then from Docker Hub itself unless
 * `--skip-default-registry-fallback`; any other name from its own registry. Resolves the image
 * and where it came from. */
async function retrieveImage(
  name: ImageName,
  run: Run,
  dir: string,
): Promise<{ pulled: PulledBase; image: ImageName }> {
  // go-containerregistry's first request (`GET /v2/`), then the image; Kaniko words a failure
  // as its retry helper does, even without retries.
  const attempt = async (at: ImageName) => {
    const registry = run.registries.registry(at.host, false);
    try {
      await pingRegistry(registry);
      return { pulled: await pullImage(registry, at, dir), image: at };
    } catch (error) {
      throw new Error(
        `unable to complete operation after 0 attempts, last error: ${(error as Error).message}`,
      );
    }
  };
  const { registryMirrors, skipDefaultRegistryFallback } = run.options;
  if (name.host === DEFAULT_REGISTRY) {
    for (const mirror of registryMirrors) {
      const at = { ...name, host: mirror };
      await info(`Retrieving image ${referenceText(at)} from mapped registry ${mirror}`);
      try {
        return await attempt(at);
      } catch (error) {
        await info(
          `Failed to retrieve image ${referenceText(at)} from remapped registry ${mirror}: ` +
            `${(error as Error).message}. Will try with the next registry, or fallback to the ` +
            "original registry.",
          "WARN",
        );
      }
    }
    if (registryMirrors.length > 0 && skipDefaultRegistryFallback) {
      throw new Error(
        `image not found on any configured mapped registries for ${referenceText(name)}`,
      );
    }
  }
  await info(`Retrieving image ${referenceText(name)} from registry ${name.host}`);
  return await attempt(name);
}

/** COPY/ADD: sources from the context (or `--from` stage), into the destination, owned by
 * `--chown` (root otherwise); ADD also unpacks local tar archives. */
async function copy(ins: Instruction, stage: Stage, stages: Stage[], lookup: Lookup, run: Run) {
  const list = ins.json?.map((w) => substitute(w, lookup)) ?? words(ins.args, lookup);
  if (list.length < 2) {
    throw new BuildError(
      `error building image: parsing dockerfile: dockerfile parse error on line ${ins.line}: ${ins.keyword} requires at least two arguments`,
    );
  }
  const dest = list.pop()!;
  const fromName = ins.flags.from;
  const fromStage = fromName === undefined
    ? undefined
    : stages.find((s, i) => s.name === fromName || String(i) === fromName);
  if (fromName !== undefined && !fromStage) {
    throw new Error(`resolving --from=${fromName}: no stage of that name`);
  }
  const sourceRoot = fromStage?.root ?? run.context;
  const sources: string[] = [];
  for (const source of list) {
    if (/^[a-z]+:\/\//.test(source)) {
      throw new Error(`${ins.keyword} of a URL (${source}) is not supported by this executor`);
    }
    const matched = await glob(sourceRoot, normalise(source));
    if (matched.length === 0) {
      throw new Error(
        `failed to get files used from context: failed to get fileinfo for ${sourceRoot}/${
          normalise(source)
        }: lstat ${sourceRoot}/${normalise(source)}: no such file or directory`,
      );
    }
    sources.push(...matched);
  }
  const workdir = stage.image.config.WorkingDir || "/";
  const target = `${stage.root}${absolute(dest, workdir)}`;
  const intoDir = dest.endsWith("/") || sources.length > 1 ||
    (await Deno.stat(target).catch(() => undefined))?.isDirectory;
  const owner = ins.flags.chown ? userSpec(stage.root, ins.flags.chown, true) : "0:0";
  for (const source of sources) {
    const from = `${sourceRoot}/${source}`;
    const info = await Deno.stat(from);
    const to = info.isDirectory
      ? target
      : intoDir
      ? `${target}/${source.slice(source.lastIndexOf("/") + 1)}`
      : target;
    await Deno.mkdir(info.isDirectory ? to : to.slice(0, to.lastIndexOf("/")) || "/", {
      recursive: true,
    });
    if (ins.keyword === "ADD" && info.isFile && await isArchive(from)) {
      await Deno.mkdir(target, { recursive: true });
      const out = await new Deno.Command(run.tools.tar, {
        args: ["-xf", from, "-C", target, "--no-same-owner"],
        stderr: "piped",
      }).output();
      if (!out.success) {
        throw new Error(`unpacking ${source}: ${new TextDecoder().decode(out.stderr)}`);
      }
      continue;
    }
    const cp = await new Deno.Command(run.tools.cp, {
      args: ["-a", "--no-preserve=ownership", info.isDirectory ? `${from}/.` : from, to],
      stderr: "piped",
    }).output();
    if (!cp.success) {
      throw new Error(`copying ${source}: ${new TextDecoder().decode(cp.stderr).trim()}`);
    }
    const chown = await new Deno.Command("chown", { args: ["-hR", owner, to] }).output();
    if (!chown.success) {
      throw new Error(`chown ${owner} ${to}: ${new TextDecoder().decode(chown.stderr).trim()}`);
    }
  }
  if (ins.flags.chmod) {
    await new Deno.Command("chmod", { args: ["-R", ins.flags.chmod, target] }).output();
  }
}

/** The entries of `dir`, none when it is missing or not a directory. */
async function entries(dir: string): Promise<Deno.DirEntry[]> {
  try {
    return await Array.fromAsync(Deno.readDir(dir));
  } catch {
    return [];
  }
}

async function isArchive(path: string): Promise<boolean> {
  const file = await Deno.open(path);
  const head = new Uint8Array(262);
  const n = (await file.read(head)) ?? 0;
  file.close();
  return (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) ||
    (n >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === "ustar");
}

/** `path` relative to the context with `.`/`..` resolved; refuses leaving the context. */
function normalise(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (!part || part === ".") continue;
    if (part === "..") {
      if (!parts.length) throw new Error(`forbidden path outside the build context: ${path}`);
      parts.pop();
    } else parts.push(part);
  }
  return parts.join("/") || ".";
}

/** The paths under `root` matching `pattern` (`*` and `?` within one component). */
async function glob(root: string, pattern: string): Promise<string[]> {
  if (!/[*?[]/.test(pattern)) return await exists(`${root}/${pattern}`) ? [pattern] : [];
  let matches = [""];
  for (const part of pattern.split("/")) {
    const next: string[] = [];
    const re = new RegExp(
      `^${part.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")}$`,
    );
    for (const base of matches) {
      for (const entry of await entries(`${root}/${base}`)) {
        if (re.test(entry.name)) next.push(base ? `${base}/${entry.name}` : entry.name);
      }
    }
    matches = next.sort();
  }
  return matches;
}

function absolute(path: string, base = "/"): string {
  const joined = path.startsWith("/") ? path : `${base.replace(/\/$/, "")}/${path}`;
  const parts: string[] = [];
  for (const part of joined.split("/")) {
    if (!part || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** `uid:gid` for a USER or --chown value, names looked up in the root's /etc/passwd and group. */
function userSpec(root: string, user: string, chown = false): string {
  if (!user) return "0:0";
  const [name, group] = user.split(":");
  const read = (file: string) => {
    try {
      return Deno.readTextFileSync(`${root}/etc/${file}`).split("\n").map((l) => l.split(":"));
    } catch {
      return [];
    }
  };
  const passwd = read("passwd");
  const entry = passwd.find((f) => f[0] === name || f[2] === name);
  const uid = /^\d+$/.test(name) ? name : entry?.[2];
  if (uid === undefined) {
    throw new Error(
      `${
        chown ? "--chown" : "USER"
      } ${user}: unable to find user ${name}: no matching entries in passwd file`,
    );
  }
  let gid = entry?.[3] ?? (chown ? uid : "0");
  if (group) {
    const found = read("group").find((f) => f[0] === group)?.[2];
    gid = /^\d+$/.test(group) ? group : found ?? "";
    if (!gid) throw new Error(`unable to find group ${group}: no matching entries in group file`);
  }
  return `${uid}:${gid}`;
}

function findTools(): Tools {
  const path = (Deno.env.get("PATH") ?? "") +
    ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  const find = (name: string) => {
    for (const dir of path.split(":").filter((d) => d.startsWith("/"))) {
      try {
        if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
      } catch {
        // Not in this directory.
      }
    }
    throw new BuildError(
      `error building image: the executor needs ${name} (util-linux/coreutils/tar) on PATH`,
    );
  };
  return {
    tar: find("tar"),
    cp: find("cp"),
    unshare: find("unshare"),
    mount: find("mount"),
    chroot: find("chroot"),
    sh: find("sh"),
  };
}

if (import.meta.main) Deno.exit(await main(Deno.args));
