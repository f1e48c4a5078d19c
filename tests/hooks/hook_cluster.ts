/**
 * What the black-box hook tests share: one cluster per test file (the embedded one, or the real
 * tier with KUBEHOOK_TEST_CLUSTER=real), runner simulators
 * configured like a runner pod (KUBECONFIG with the `runner` context, so kubehook has exactly its
 * documented Role; a unique ACTIONS_RUNNER_POD_NAME; the runner image for externals), and the
 * check every case ends with: nothing kubehook made is left in the namespace.
 *
 * @example
 * ```ts
 * Deno.test("jobs", async (t) => {
 *   await using hc = await HookCluster.start();
 *   await hc.job(t, "a job with a step", async ({ sim }) => {
 *     assertHookOk(await sim.prepareJob({ container: jobContainer("debian:12"), services: [] }));
 *     assertHookOk(await sim.scriptStep("echo hi"));
 *     assertHookOk(await sim.cleanupJob());
 *   });
 * });
 * ```
 * @module
 */
import assert from "node:assert/strict";
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import { type ClusterAccess, startTestCluster } from "../cluster/harness.ts";
import { type HookResult, RunnerSim } from "../support/runner_sim.ts";

/** The namespace of the kubeconfig's contexts. */
export const NAMESPACE = "default";

/** What a job case's body gets. */
export interface JobCase {
  sim: RunnerSim;
  /** The runner pod the hook runs as: kubehook labels its objects `runner-pod=<runnerPod>`. */
  runnerPod: string;
  /** The case's own test context, for sub-steps sharing its job. */
  t: Deno.TestContext;
}

/** A local cluster and runner simulators wired to it. */
export class HookCluster implements AsyncDisposable {
  readonly cluster: ClusterAccess;
  #runners = 0;

  private constructor(cluster: ClusterAccess) {
    this.cluster = cluster;
  }

  static async start(): Promise<HookCluster> {
    return new HookCluster(await startTestCluster());
  }

  /** A runner simulator whose hook talks to this cluster as a new runner pod `runner-<n>`; `env`
   * overrides or adds hook variables (KUBEHOOK_CONTEXT, heartbeat settings, ...). */
  async sim(env: Record<string, string> = {}): Promise<{ sim: RunnerSim; runnerPod: string }> {
    const runnerPod = `runner-${++this.#runners}`;
    const sim = await RunnerSim.create({
      env: {
        KUBECONFIG: this.cluster.kubeconfigPath,
        KUBEHOOK_CONTEXT: "runner",
        ACTIONS_RUNNER_POD_NAME: runnerPod,
        ACTIONS_RUNNER_IMAGE: "ghcr.io/actions/actions-runner:latest",
        ...env,
      },
    });
    return { sim, runnerPod };
  }

  /** Runs one job case as a test step with a fresh simulator, then checks that the namespace holds
   * no pod and no secret. Leftovers are removed after they are reported, so one broken case does
   * not fail every later one. */
  async job(
    t: Deno.TestContext,
    name: string,
    body: (job: JobCase) => Promise<void>,
    env: Record<string, string> = {},
  ): Promise<boolean> {
    return await t.step(name, async (step) => {
      let failure: unknown;
      try {
        const { sim, runnerPod } = await this.sim(env);
        await using _ = sim;
        await body({ sim, runnerPod, t: step });
      } catch (error) {
        failure = error;
      }
      await this.cluster.clearFaults();
      const left = await this.leftovers();
      await this.#remove(left);
      // A failed case may stop before cleanup_job: its own failure is the news, not its leftovers.
      if (failure !== undefined) throw failure;
      assert.deepEqual(left, [], `the job left objects in namespace "${NAMESPACE}"`);
    });
  }

  /** Every pod and secret in the namespace, as `pods/<name>` and `secrets/<name>` (admin view). */
  async leftovers(): Promise<string[]> {
    const names: string[] = [];
    for (const resource of ["pods", "secrets"]) {
      const list = await this.#get<{ items: (V1Pod | V1Secret)[] }>(
        `/api/v1/namespaces/${NAMESPACE}/${resource}`,
      );
      for (const item of list.items) names.push(`${resource}/${item.metadata!.name}`);
    }
    return names;
  }

  /** The objects of `resource` labelled for a runner pod, as the admin sees them. */
  async labelled<T>(resource: "pods" | "secrets", runnerPod: string): Promise<T[]> {
    const selector = encodeURIComponent(`runner-pod=${runnerPod}`);
    const list = await this.#get<{ items: T[] }>(
      `/api/v1/namespaces/${NAMESPACE}/${resource}?labelSelector=${selector}`,
    );
    return list.items;
  }

  /** The faults injected and not yet used up. */
  faultsLeft(): Promise<unknown[]> {
    return this.#get("/_cluster/faults");
  }

  /** Runs a shell script in the job pod's default container with the admin's kubectl. */
  async execInPod(pod: string, script: string): Promise<string> {
    const result = await this.cluster.kubectl(["exec", pod, "--", "sh", "-c", script]);
    assert.equal(result.code, 0, `kubectl exec into ${pod} failed: ${result.stderr}`);
    return result.stdout;
  }

  /** Calls the API as the admin (`path` from the root, e.g. `/api/v1/...`) with a JSON body;
   * resolves with the JSON answer, asserting it succeeded. */
  async api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.cluster.fetch(path, {
      method,
      headers: { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text);
  }

  #get<T>(path: string): Promise<T> {
    return this.api<T>("GET", path);
  }

  async #remove(objects: string[]): Promise<void> {
    for (const object of objects) {
      const response = await this.cluster.fetch(
        `/api/v1/namespaces/${NAMESPACE}/${object}?gracePeriodSeconds=0`,
        { method: "DELETE" },
      );
      await response.body?.cancel();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.cluster.stop();
  }
}

/** The hook's whole log as the runner shows it: stdout then stderr, with the `%0A`-style escapes
 * of workflow commands (`::error::...`) decoded so multi-line messages can be matched. */
export function logOf(result: HookResult): string {
  return `${result.stdout}\n${result.stderr}`
    .replaceAll("%0A", "\n")
    .replaceAll("%0D", "\r")
    .replaceAll("%25", "%");
}

/** Asserts the hook call succeeded and the runner would accept its response. */
export function assertHookOk(result: HookResult, what = "the hook"): void {
  assert.equal(result.code, 0, `${what} exited ${result.code}:\n${logOf(result)}`);
  assert.equal(result.runnerError, undefined, `${what}: ${result.runnerError}`);
}

/** Asserts the hook call failed (non-zero exit) and returns its log. */
export function assertHookFailed(result: HookResult, what = "the hook"): string {
  assert.notEqual(result.code, 0, `${what} should have failed:\n${logOf(result)}`);
  return logOf(result);
}
