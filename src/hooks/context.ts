/**
 * What every hook starts from: the process environment, the cancellation signal, the settings, a
 * client for the cluster, and the job's state as prepare_job recorded it.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { KubeClient } from "../kube/client.ts";
import { KubeApiError } from "../kube/errors.ts";
import { podsPath } from "../kube/paths.ts";
import type { HookState } from "../runner/input.ts";
import { readSettings, type Settings } from "../runner/settings.ts";
import type { SyncState } from "./workspace.ts";

/** The runner sends SIGTERM 7.5 s after SIGINT and kills the hook 2.5 s later: what a cancelled
 * hook still does (stop its step's processes, say so) gets this long. */
export const CANCEL_GRACE_MS = 7_000;

/** Handed to every hook by `main.ts`. */
export interface HookContext {
  env: Record<string, string>;
  /** Aborted on SIGINT/SIGTERM (the runner cancelling the job). */
  signal: AbortSignal;
}

/** A hook's connection to the cluster. Dispose it to release pooled connections. */
export interface Connection extends Disposable {
  settings: Settings;
  client: KubeClient;
  namespace: string;
}

/** Reads the settings and opens a client for the configured cluster and namespace. */
export async function connect(context: HookContext): Promise<Connection> {
  const settings = readSettings(context.env);
  const [{ loadKubeAccess }, { KubeClient }] = await Promise.all([
    import("../kube/config.ts"),
    import("../kube/client.ts"),
  ]);
  const access = await loadKubeAccess(context.env);
  const client = new KubeClient(access);
  return {
    settings,
    client,
    namespace: settings.namespace ?? access.namespace,
    [Symbol.dispose]: () => client.close(),
  };
}

/** What prepare_job records for the later hooks (the runner hands it back on every call). */
export interface JobState {
  /** The job pod's name. */
  jobPod: string;
  namespace: string;
  /** Whether the pod has a job container (steps run there). */
  hasJobContainer: boolean;
  /** The service containers of the pod (their logs go to the job log at cleanup). */
  services?: string[];
  /** The Pod Security standard prepare_job made the pod for: container steps follow it. */
  podSecurity?: "baseline" | "restricted";
  /** Transfer bookkeeping: when `<work>` was last in sync with the pod (see src/transfer). */
  sync?: SyncState;
}

/** The job state from a hook's input, or a clear error when prepare_job did not record one. */
export function jobState(state: HookState, hook: string): JobState {
  const jobPod = state?.jobPod;
  const namespace = state?.namespace;
  if (typeof jobPod !== "string" || typeof namespace !== "string") {
    throw new Error(
      `${hook} got no job pod in its state (state: ${
        JSON.stringify(state)
      }). prepare_job records it; ` +
        `it probably failed earlier in this job — see its log above.`,
    );
  }
  return {
    jobPod,
    namespace,
    hasJobContainer: state?.hasJobContainer !== false,
    podSecurity: state?.podSecurity === "restricted" ? "restricted" : undefined,
    services: Array.isArray(state?.services)
      ? (state.services as unknown[]).filter((s): s is string => typeof s === "string")
      : undefined,
    // Written by kubehook itself in an earlier response: trusted as it was written.
    sync: state?.sync as SyncState | undefined,
  };
}

/** The runner pod, when kubehook runs in one that the API knows (it owns the job's objects then). */
export async function findRunnerPod(connection: Connection): Promise<V1Pod | undefined> {
  try {
    return await connection.client.get<V1Pod>(
      podsPath(connection.namespace, connection.settings.runnerPodName),
    );
  } catch (error) {
    if (error instanceof KubeApiError && error.status === 404) return undefined;
    throw error;
  }
}
