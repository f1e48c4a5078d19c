/**
 * What the hook benches share: a cluster of the tier the bench runs on (`--real`: the real one), a runner simulator that calls the hook with the
 * `runner` context (the permissions kubehook's documented Role grants), and the cluster's request
 * counts (`/_cluster/stats`), so a bench can tell what one hook call cost the API server.
 *
 * ```ts
 * await using job = await startBenchJob({ runnerPod: "bench-runner" });
 * await job.sim.prepareJob({ container: jobContainer("debian:12"), services: [] });
 * await job.resetStats();
 * await job.sim.scriptStep("echo hi");
 * console.log((await job.stats()).execSessions);
 * ```
 *
 * @module
 */
import { type ClusterAccess, startTestCluster } from "../tests/cluster/harness.ts";
import type { StatsSnapshot } from "../tests/cluster/api/stats.ts";
import { type HookResult, RunnerSim } from "../tests/support/runner_sim.ts";

export type { StatsSnapshot };

/** The request key of a SelfSubjectAccessReview, which upstream sends 13 of per call. */
const ACCESS_REVIEWS = "create selfsubjectaccessreviews.authorization.k8s.io";

/** A cluster with a runner simulator; `await using` stops both. */
export interface BenchJob extends AsyncDisposable {
  cluster: ClusterAccess;
  sim: RunnerSim;
  /** The request counts since the last reset. */
  stats(): Promise<StatsSnapshot>;
  resetStats(): Promise<void>;
}

/** Starts a cluster and a simulator whose hook calls act as `runnerPod`. `hook` replaces
 * scripts/hook.sh (a wrapper that measures it, say); `env` adds hook settings. */
/** The runner image the bench's jobs take their externals from (both clusters have it). */
export const RUNNER_IMAGE = "ghcr.io/actions/actions-runner:latest";

export async function startBenchJob(
  options: { runnerPod: string; hook?: string; env?: Record<string, string> },
): Promise<BenchJob> {
  const cluster = await startTestCluster();
  let sim: RunnerSim;
  try {
    sim = await RunnerSim.create({
      hook: options.hook,
      env: {
        KUBECONFIG: cluster.kubeconfigPath,
        KUBEHOOK_CONTEXT: "runner",
        ACTIONS_RUNNER_POD_NAME: options.runnerPod,
        ACTIONS_RUNNER_IMAGE: RUNNER_IMAGE,
        ...options.env,
      },
    });
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  const statsRequest = async (method: string): Promise<StatsSnapshot> => {
    const response = await cluster.fetch("/_cluster/stats", { method });
    if (!response.ok) {
      throw new Error(
        `The cluster refused ${method} /_cluster/stats: ${await response.text()}`,
      );
    }
    return await response.json();
  };
  return {
    cluster,
    sim,
    stats: () => statsRequest("GET"),
    resetStats: async () => void await statsRequest("DELETE"),
    [Symbol.asyncDispose]: async () => {
      await sim[Symbol.asyncDispose]();
      await cluster.stop();
    },
  };
}

/** How many SelfSubjectAccessReviews the counts include. */
export function accessReviews(stats: StatsSnapshot): number {
  return stats.requests[ACCESS_REVIEWS] ?? 0;
}

/** `stats` as one line, for a figure's note: `total 9: create pods 1, get pods/exec 2, ...`. */
export function requestBreakdown(stats: StatsSnapshot): string {
  const parts = Object.entries(stats.requests).map(([key, n]) => `${key} ${n}`);
  return `${stats.total} requests: ${parts.join(", ")}`;
}

/** Throws with the hook's own output when a call that had to succeed did not. */
export function expectSuccess(what: string, result: HookResult): HookResult {
  if (result.code !== 0 || result.runnerError) {
    throw new Error(
      `${what} failed with exit code ${result.code}${
        result.runnerError ? ` (${result.runnerError})` : ""
      }:\n${result.stderr || result.stdout}`,
    );
  }
  return result;
}
