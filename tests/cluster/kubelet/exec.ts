/**
 * exec and attach into a running container. exec starts the command with `nsenter` in every
 * namespace of the container's PID 1 and its root, with the container's environment, working
 * directory and user, in its own process group (so a session can be signalled as a whole). It
 * lives in the container's PID namespace, so it dies with the container, as on a real node. The
 * output streams keep draining after the reader cancels them: a dropped client connection must
 * not stop or kill the process. attach streams the container's output from now on and, for
 * `stdin: true` containers, writes into its stdin.
 *
 * @module
 */
import { type ContainerProcess, type ProcessRequest, RuntimeError } from "../contract.ts";
import type { ActiveRun, ContainerSlot } from "./container_run.ts";
import type { HostTools } from "./host_tools.ts";
import { executableProblem } from "./root_paths.ts";

/** Starts `request.command` in the container of `run`. */
export function execInContainer(
  tools: HostTools,
  run: ActiveRun,
  request: ProcessRequest,
): ContainerProcess {
  const root = `/proc/${run.handle.pid}/root`;
  const problem = executableProblem(
    [{ target: "/", lowers: [root] }],
    request.command[0] ?? "",
    run.env.get("PATH") ?? "",
    run.workingDir,
  );
  if (problem) {
    throw new RuntimeError(
      500,
      "error executing command in container: failed to exec in container: failed to start exec: " +
        `OCI runtime exec failed: exec failed: unable to start container process: ${problem}: unknown`,
    );
  }
  const { uid, gid } = run.identity;
  const child = new Deno.Command(tools.nsenter, {
    args: [
      `--target=${run.handle.pid}`,
      "--mount",
      "--uts",
      "--ipc",
      "--net",
      "--pid",
      "--root",
      `--wdns=${run.workingDir}`,
      ...(uid !== 0 || gid !== 0 ? [`--setuid=${uid}`, `--setgid=${gid}`] : []),
      "--",
      ...request.command,
    ],
    env: Object.fromEntries(run.env),
    clearEnv: true,
    stdin: request.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  const stdout = draining(child.stdout);
  const stderr = draining(child.stderr);
  return {
    stdin: request.stdin ? child.stdin : null,
    stdout: request.tty ? merged(stdout, stderr) : stdout,
    stderr: request.tty ? new ReadableStream({ start: (c) => c.close() }) : stderr,
    exitCode: child.status.then((status) => status.code),
    kill: (signal) => {
      try {
        Deno.kill(-child.pid, signal);
      } catch {
        // The session already ended.
      }
    },
  };
}

/** Attaches to the container's own process. `kill` detaches; the container keeps running. */
export function attachToContainer(
  slot: ContainerSlot,
  run: ActiveRun,
  request: ProcessRequest,
): ContainerProcess {
  const streams = { stdout: undefined, stderr: undefined } as Record<
    string,
    ReadableStreamDefaultController<Uint8Array> | undefined
  >;
  const output = (name: "stdout" | "stderr") =>
    new ReadableStream<Uint8Array>({
      start: (controller) => {
        streams[name] = controller;
      },
    });
  const stdout = output("stdout");
  const stderr = output("stderr");
  const detach = () => {
    unsubscribe();
    for (const controller of Object.values(streams)) {
      try {
        controller?.close();
      } catch {
        // Already closed or cancelled.
      }
    }
  };
  const unsubscribe = run.log.subscribe((chunk, name) => {
    try {
      streams[request.tty ? "stdout" : name]?.enqueue(chunk);
    } catch {
      // The reader cancelled this stream; the other one may still be read.
    }
  });
  const exitCode = run.handle.exitCode.then((code) => {
    detach();
    return code;
  });
  const containerStdin = run.handle.stdin;
  const stdin = request.stdin && containerStdin
    ? new WritableStream<Uint8Array>({
      write: (chunk) => containerStdin.write(chunk),
      // stdinOnce: the first session closing stdin closes it for the container.
      close: () => slot.spec.stdinOnce ? containerStdin.close() : undefined,
    })
    : null;
  return {
    stdin,
    stdout,
    stderr: request.tty ? new ReadableStream({ start: (c) => c.close() }) : stderr,
    exitCode,
    kill: detach,
  };
}

/** Passes `source` through; once the reader cancels, keeps reading and discarding it. */
function draining(source: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel() {
      (async () => {
        while (!(await reader.read()).done);
      })().catch(() => {});
    },
  });
}

/** Both streams into one, as a terminal merges them. */
function merged(
  a: ReadableStream<Uint8Array>,
  b: ReadableStream<Uint8Array>,
): ReadableStream<Uint8Array> {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const copy = async (source: ReadableStream<Uint8Array>) => {
    for await (const chunk of source) await writer.write(chunk).catch(() => {});
  };
  Promise.all([copy(a), copy(b)]).then(() => writer.close()).catch(() => {});
  return readable;
}
