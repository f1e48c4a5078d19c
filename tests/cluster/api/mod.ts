/**
 * The local cluster's API server: TLS material, store, control plane, kubelet wiring, the
 * internal HTTP server and the TLS front door, started together and stopped together.
 *
 * ```ts
 * const server = await startApiServer({ stateDir, createRuntime: (store) => createKubelet(store, { stateDir }) });
 * console.log(server.url); // https://127.0.0.1:PORT
 * await server.close();
 * ```
 *
 * @module
 */
import type { ClusterStore, PodRuntime } from "../contract.ts";
import { createUsers, type Identity, type User } from "./authz.ts";
import { ControlPlane } from "./control.ts";
import { Faults } from "./faults.ts";
import { FrontDoor, writeRawResponse } from "./front.ts";
import { handle, type HandlerContext } from "./handler.ts";
import { RequestStats } from "./stats.ts";
import { ObjectStore } from "./store.ts";
import { generateTls } from "./tls.ts";

/** How to start the API server. */
export interface ApiServerOptions {
  /** The cluster's state directory; the API server keeps its files under `api/` in it. */
  stateDir: string;
  /** Makes the kubelet from the store view it may use. */
  createRuntime: (store: ClusterStore) => PodRuntime;
  /** The port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** How many changes watches can resume from (default 1000). */
  watchHistory?: number;
}

/** A running API server. */
export interface ApiServer {
  url: string;
  port: number;
  caPem: string;
  users: Record<Identity, User>;
  control: ControlPlane;
  faults: Faults;
  /** Stops serving, shuts the kubelet down (every pod process) and removes `stateDir/api`. */
  close(): Promise<void>;
}

/** Starts the API server and its kubelet. */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const apiDir = `${options.stateDir}/api`;
  await Deno.mkdir(apiDir, { recursive: true });
  // Undone in reverse order if a later step fails, so a failed start leaves nothing behind.
  const undo: (() => Promise<void>)[] = [() => Deno.remove(apiDir, { recursive: true })];
  const unwind = async () => {
    for (const step of [...undo].reverse()) {
      try {
        await step();
      } catch {
        // Already undone (the front door closes the listener itself); the rest must still run.
      }
    }
  };
  try {
    return await serve(options, apiDir, undo, unwind);
  } catch (error) {
    await unwind();
    throw error;
  }
}

async function serve(
  options: ApiServerOptions,
  apiDir: string,
  undo: (() => Promise<void>)[],
  unwind: () => Promise<void>,
): Promise<ApiServer> {
  const tls = await generateTls(apiDir);
  const store = new ObjectStore(options.watchHistory);
  const faults = new Faults();
  const control = new ControlPlane(store, { stateDir: options.stateDir, faults });
  const runtime = options.createRuntime(control.kubeletView());
  control.runtime = runtime;
  undo.push(() => control.close(), () => runtime.shutdown());
  const users = createUsers();
  let url = "";
  const context: HandlerContext = {
    control,
    faults,
    stats: new RequestStats(),
    users: Object.values(users),
    url: () => url,
  };

  const backend = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) =>
      await handle(context, request) ??
        new Response("the upgrade was not handed over", { status: 500 }),
  );
  undo.push(() => backend.shutdown());
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    cert: tls.certPem,
    key: tls.keyPem,
  });
  undo.push(() => Promise.resolve(listener.close()));
  const port = listener.addr.port;
  url = `https://127.0.0.1:${port}`;
  const front = new FrontDoor({
    listener,
    backendPort: backend.addr.port,
    onUpgrade: async (upgrade) => {
      const response = await handle(context, upgrade.request, upgrade);
      if (response) await writeRawResponse(upgrade.conn, response);
    },
  });

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    caPem: tls.caPem,
    users,
    control,
    faults,
    close: () =>
      closing ??= (async () => {
        // The front door closes its listener and connections at once, so no request arrives while
        // the rest goes down; it finishes only when every session has ended, and an exec session
        // whose client is gone ends only when the kubelet (in unwind) kills its process.
        const frontClosed = front.close();
        await unwind();
        await frontClosed;
      })(),
  };
}
