/**
 * A stand-in kubelet for the API server's own tests: containers are plain host processes (no
 * sandbox, no images) so that exec websockets, faults and authorization can be tested without
 * depending on the real kubelet. A container runs `command` + `args` (default `sleep 3600`);
 * the pod turns Running at once. Never used outside tests.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import type {
  ClusterStore,
  ContainerProcess,
  LogOptions,
  PodRuntime,
  ProcessRequest,
} from "../contract.ts";

function spawn(argv: string[], stdin: boolean): Deno.ChildProcess {
  return new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

function asProcess(child: Deno.ChildProcess, stdin: boolean): ContainerProcess {
  return {
    stdin: stdin ? child.stdin : null,
    stdout: child.stdout,
    stderr: child.stderr,
    exitCode: child.status.then((s) =>
      s.signal ? 128 + (Deno.build.os === "linux" ? 9 : 0) : s.code
    ),
    kill: (signal) => child.kill(signal),
  };
}

/** Makes the stand-in runtime over `store`. */
export function createHostRuntime(store: ClusterStore): PodRuntime {
  const pods = new Map<string, { children: Deno.ChildProcess[]; logs: Uint8Array[] }>();
  const execs = new Set<Deno.ChildProcess>();
  const key = (namespace: string, name: string) => `${namespace}/${name}`;

  const stop = async (namespace: string, name: string) => {
    const pod = pods.get(key(namespace, name));
    pods.delete(key(namespace, name));
    for (const child of pod?.children ?? []) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await child.status;
    }
  };

  return {
    startPod(pod: V1Pod) {
      const { namespace = "", name = "" } = pod.metadata ?? {};
      const entry = { children: [] as Deno.ChildProcess[], logs: [] as Uint8Array[] };
      pods.set(key(namespace, name), entry);
      for (const c of pod.spec?.containers ?? []) {
        const argv = [...(c.command ?? []), ...(c.args ?? [])];
        const child = spawn(argv.length ? argv : ["sleep", "3600"], false);
        entry.children.push(child);
        for (const stream of [child.stdout, child.stderr]) {
          stream.pipeTo(new WritableStream({ write: (chunk) => void entry.logs.push(chunk) }))
            .catch(() => {});
        }
      }
      store.updatePodStatus(namespace, name, (status) => ({
        ...status,
        phase: "Running",
        podIP: "10.0.0.2",
        containerStatuses: (pod.spec?.containers ?? []).map((c) => ({
          name: c.name,
          image: c.image ?? "",
          imageID: "",
          ready: true,
          restartCount: 0,
          state: { running: { startedAt: new Date() } },
        })),
      }));
    },
    addEphemeralContainers() {
      // The stand-in runs no images; ephemeral containers are the real kubelet's business.
    },
    async deletePod(namespace, name) {
      await stop(namespace, name);
      store.removePod(namespace, name);
    },
    async evictPod(namespace, name, message) {
      await stop(namespace, name);
      store.updatePodStatus(
        namespace,
        name,
        (s) => ({ ...s, phase: "Failed", reason: "Evicted", message }),
      );
    },
    exec(request: ProcessRequest) {
      const child = spawn(request.command, request.stdin);
      execs.add(child);
      child.status.then(() => execs.delete(child));
      return Promise.resolve(asProcess(child, request.stdin));
    },
    attach() {
      return Promise.reject(new Error("the stand-in runtime cannot attach"));
    },
    logs(namespace, pod, _container, _options: LogOptions) {
      const chunks = pods.get(key(namespace, pod))?.logs ?? [];
      return ReadableStream.from(chunks);
    },
    async shutdown() {
      for (const k of [...pods.keys()]) await stop(...(k.split("/") as [string, string]));
      for (const child of execs) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
        await child.status;
      }
    },
  };
}
