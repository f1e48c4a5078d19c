/**
 * Building a Dockerfile action's image before its step runs (seed 002): in a builder pod
 * (build/kaniko.ts) without privileges, pushed to the registry the settings name, and never twice.
 * The tag is the build's content digest, so kubehook first asks the registry — from the runner,
 * with the registry secret's credential — whether that tag exists; if it does, the step runs at
 * once. Otherwise the action's directory is packed on the fly and sent gzip-compressed over an
 * attach websocket to the builder's stdin (no shared volume: the builder pod may land on any
 * node), the builder's output goes to the step log inside `::group::Building <action>`, and a
 * failed build fails the step with the builder's error and the Dockerfile line it stopped on. The
 * builder pod is deleted before the hook returns, also on failure and cancellation; nothing of the
 * registry secret is copied (the pod mounts the user's Secret itself).
 *
 * @module
 */
import { BUILD_README, type BuildPlan, planBuild } from "../build/build_plan.ts";
import { apiHost, type BuildTarget } from "../build/build_target.ts";
import { locateInstruction, parseErrorLine } from "../build/dockerfile_lines.ts";
import { openAttach } from "../kube/exec.ts";
import { podsPath } from "../kube/paths.ts";
import { watchPod } from "../kube/watch_pod.ts";
import type { RegistryCredential } from "../registry/docker_config.ts";
import { secretCredential } from "../registry/secret_credential.ts";
import { formatRef, manifestExists, RegistryError } from "../registry/registry_client.ts";
import type { WorkLayout } from "../runner/layout.ts";
import { REGISTRY_HOST, REGISTRY_SECRET_NAME, type RegistrySettings } from "../runner/settings.ts";
import { gzipStream } from "../transfer/compression.ts";
import { packHostTree } from "../transfer/host_pack.ts";
import { followAction } from "./action_run.ts";
import type { Connection, HookContext } from "./context.ts";
import { writeFully } from "../bytes.ts";

/** The image a step runs after its build, and the Secret its pod pulls it with. */
export interface BuiltImage {
  image: string;
  pullSecret: string;
}

/** How many of the builder's last lines are kept to explain a failure. */
const TAIL_LINES = 40;
/** A kept line's most characters: a builder decides its lines' length. */
const TAIL_LINE_CHARS = 2000;

/** Builds the image of the Dockerfile at host path `dockerfile` unless the registry has it;
 * resolves undefined when the runner cancelled the build. */
export async function buildImage(
  dockerfile: string,
  connection: Connection,
  context: HookContext,
  layout: WorkLayout,
  podSecurity: "baseline" | "restricted" | "auto",
): Promise<BuiltImage | undefined> {
  const plan = await planBuild({
    dockerfile,
    settings: connection.settings,
    env: context.env,
    workDir: layout.work,
    namespace: connection.namespace,
    podSecurity,
  });
  const { target, registry } = plan;
  const credential = await pushCredential(connection, registry, target, context.signal);
  const built = { image: formatRef(target.pull), pullSecret: registry.secretName };
  if (await builtBefore(target, registry, credential, context.signal)) {
    console.log(
      `The image of ${target.action} was built before from the same Dockerfile and files ` +
        `(${built.image}): not building it again.`,
    );
    return built;
  }
  const code = await runBuilder(plan, connection, context);
  return code === undefined ? undefined : built;
}

/** Runs the builder pod; resolves with 0, undefined when cancelled; throws when the build failed. */
async function runBuilder(
  plan: BuildPlan,
  connection: Connection,
  context: HookContext,
): Promise<0 | undefined> {
  const { target, builder, pod } = plan;
  const { client, namespace, settings } = connection;
  const name = pod.metadata!.name!;
  const tail = new LineTail(TAIL_LINES, TAIL_LINE_CHARS);
  console.log(`::group::Building ${target.action}`);
  try {
    await client.create(podsPath(namespace), pod, context.signal);
    console.log(
      `Building ${plan.dockerfileName} of ${target.action} with ${builder.name} in pod ` +
        `"${name}" (image "${settings.builderImage}"), to push ${formatRef(target.push)}.`,
    );
    const sending = sendContext(plan, connection, context.signal);
    let code: number;
    try {
      code = await followAction({
        client,
        namespace,
        pod: name,
        container: builder.container,
        image: settings.builderImage,
        statusOf: (p) => p.status?.containerStatuses?.find((s) => s.name === builder.container),
        startTimeoutMs: settings.prepareJobTimeoutSeconds * 1000,
        signal: context.signal,
        output: async (bytes) => {
          tail.push(bytes);
          await writeFully(Deno.stdout, bytes);
        },
        log: (line) => console.error(line),
        role: "build",
      });
    } catch (error) {
      if (!context.signal.aborted) throw error;
      console.error(`kubehook: cancelling the build: deleting pod "${name}".`);
      return undefined;
    }
    const sent = await sending;
    if (code !== 0) throw buildFailure(plan, code, tail.lines());
    if (sent) throw sent;
    console.log(`Built and pushed ${formatRef(target.push)}.`);
    return 0;
  } finally {
    console.log("::endgroup::");
    await client.delete(podsPath(namespace, name), { gracePeriodSeconds: 0 }).catch(() => {});
  }
}

/** Streams the context into the builder once it runs; resolves with what went wrong, if anything
 * (a builder that failed first explains itself better than its closed stdin). */
async function sendContext(
  plan: BuildPlan,
  connection: Connection,
  signal: AbortSignal,
): Promise<Error | undefined> {
  const { client, namespace } = connection;
  const pod = plan.pod.metadata!.name!;
  const container = plan.builder.container;
  try {
    const started = await watchPod(client, { namespace, name: pod, signal }, (p) => {
      const state = p?.status?.containerStatuses?.find((s) => s.name === container)?.state;
      if (state?.running) return true;
      if (!p || state?.terminated) return false;
      return undefined;
    });
    if (!started) return undefined;
    const session = await openAttach(client, {
      namespace,
      pod,
      container,
      stdin: true,
      signal,
    });
    // Its output is read from the container's log, which has all of it.
    session.stdout.cancel();
    session.stderr.cancel();
    const archive = await packHostTree(plan.contextDir);
    try {
      await archive.stream.pipeThrough(gzipStream()).pipeTo(session.stdin!);
      await archive.done;
    } finally {
      session.close();
    }
    return undefined;
  } catch (error) {
    if (signal.aborted) return undefined;
    return new Error(
      `The build context (${plan.contextDir}) could not be sent to builder pod ` +
        `${namespace}/${pod}: ${(error as Error).message}`,
    );
  }
}

function buildFailure(plan: BuildPlan, code: number, lines: readonly string[]): Error {
  const said = plan.builder.failure(lines) ?? `the builder exited with code ${code}`;
  const parseLine = /parse error/i.test(said) ? parseErrorLine(said) : undefined;
  const instruction = plan.builder.lastInstruction(lines);
  const at = parseLine !== undefined
    ? { line: parseLine, text: plan.dockerfileText.split(/\r?\n/)[parseLine - 1]?.trim() ?? "" }
    : instruction
    ? locateInstruction(plan.dockerfileText, instruction)
    : undefined;
  const where = at ? ` at ${plan.contextDir}/${plan.dockerfileName}:${at.line}: ${at.text}` : "";
  return new Error(
    `Building the image of ${plan.target.action} failed${where}. ${plan.builder.name} said: ` +
      `${said}. ` +
      "Its whole output is in the group above.",
  );
}

/** The registry secret's credential for the push registry, read with the job's credentials. */
async function pushCredential(
  connection: Connection,
  registry: RegistrySettings,
  target: BuildTarget,
  signal: AbortSignal,
): Promise<RegistryCredential | undefined> {
  const { client, namespace } = connection;
  const read = await secretCredential(
    client,
    namespace,
    registry.secretName,
    target.push.registry,
    signal,
  ).catch((error: Error) => {
    throw new Error(`${error.message} (${REGISTRY_SECRET_NAME}; see the ${BUILD_README})`);
  });
  if (!read.credential) {
    console.log(
      `::warning::${read.where} (${REGISTRY_SECRET_NAME}) holds no credential for ` +
        `${target.push.registry}: the builder pushes without one.`,
    );
  }
  return read.credential;
}

async function builtBefore(
  target: BuildTarget,
  registry: RegistrySettings,
  credential: RegistryCredential | undefined,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    return await manifestExists({ ...target.push, registry: apiHost(target.push.registry) }, {
      credential,
      insecure: registry.insecure,
      signal,
    });
  } catch (error) {
    if (!(error instanceof RegistryError)) throw error;
    throw new Error(
      `kubehook asks the registry, from the runner, whether the image of ${target.action} was ` +
        `built before (HEAD ${formatRef(target.push)}): ${error.message} The runner must reach ` +
        `the push registry (${REGISTRY_HOST}_PUSH or ${REGISTRY_HOST}) as the builder pod does; ` +
        "behind a proxy, set HTTPS_PROXY and NO_PROXY for the runner" +
        (registry.insecure
          ? ""
          : "; a registry without TLS needs KUBEHOOK_REGISTRY_INSECURE=true") +
        ".",
    );
  }
}

/** The last lines of a byte stream, each cut to a length: enough to explain a failure, bounded
 * whatever the builder writes. */
class LineTail {
  #lines: string[] = [];
  #partial = "";
  #decoder = new TextDecoder();

  constructor(private max: number, private maxChars: number) {}

  push(bytes: Uint8Array): void {
    const text = this.#partial + this.#decoder.decode(bytes, { stream: true });
    const parts = text.split("\n");
    this.#partial = parts.pop()!.slice(-this.maxChars);
    for (const part of parts) this.#lines.push(part.slice(0, this.maxChars));
    if (this.#lines.length > this.max) this.#lines.splice(0, this.#lines.length - this.max);
  }

  lines(): string[] {
    return this.#partial ? [...this.#lines, this.#partial] : [...this.#lines];
  }
}
