/**
 * The runner's cancel reaches requests that wait on a quiet stream: a followed log and a watch,
 * each aborted while nothing arrives, end at once, every time. A fetch body aborted while a pipe
 * waits on it did not always pass the abort on (1 pipe in 30 on Deno 2.9.6), and the hook then
 * ignored the cancel for as long as the step ran; so the abort is tried many times, at moments
 * spread over the wait.
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { startCluster } from "../cluster/harness.ts";
import { KubeClient } from "../../src/kube/client.ts";
import { loadKubeAccess } from "../../src/kube/config.ts";
import { followLog } from "../../src/kube/follow_log.ts";
import { podsPath } from "../../src/kube/paths.ts";
import { commandPod } from "../support/pods.ts";

const TRIES = 60;
/** Far beyond an abort's effect (milliseconds): reaching it means the abort was ignored. */
const IGNORED_AFTER_MS = 10_000;

/** Resolves with what `work` did, or "ignored" once the guard passes. */
function guarded(work: Promise<string>): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve("ignored"), IGNORED_AFTER_MS);
  });
  return Promise.race([work, guard]).finally(() => clearTimeout(timer));
}

Deno.test("a cancel ends a followed log and a watch that wait on a quiet stream", async (t) => {
  const cluster = await startCluster();
  const access = await loadKubeAccess({ KUBECONFIG: cluster.kubeconfigPath });
  const client = new KubeClient(access);
  const ns = access.namespace;
  const pod = "quiet";
  try {
    await client.create<V1Pod>(
      podsPath(ns),
      commandPod(pod, ["sh", "-c", "echo started; exec sleep 3600"]),
    );
    while ((await client.get<V1Pod>(podsPath(ns, pod))).status?.phase !== "Running") {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    await t.step("followLog rejects with the cancel's reason", async () => {
      const outcomes: string[] = [];
      for (let i = 0; i < TRIES; i++) {
        const cancel = new AbortController();
        const reason = new Error(`cancelled ${i}`);
        const follow = followLog(client, {
          namespace: ns,
          pod,
          container: "main",
          signal: cancel.signal,
          // Once the log went quiet after its line, somewhere in the next 300 ms.
          output: () => {
            setTimeout(() => cancel.abort(reason), (i * 37) % 300);
            return Promise.resolve();
          },
          stopped: () => Promise.resolve(false),
          log: () => {},
        }).then(() => "ended", (error) => error === reason ? "rejected" : `failed: ${error}`);
        outcomes.push(await guarded(follow));
      }
      assert.deepEqual(
        outcomes.map((o, i) => `${i}: ${o}`).filter((o) => !o.endsWith("rejected")),
        [],
      );
    });

    await t.step("a watch ends when cancelled", async () => {
      const outcomes: string[] = [];
      for (let i = 0; i < TRIES; i++) {
        const cancel = new AbortController();
        const watch = (async () => {
          const events = client.watch<V1Pod>(podsPath(ns), {
            fieldSelector: `metadata.name=${pod}`,
          }, cancel.signal);
          for await (const _ of events) setTimeout(() => cancel.abort(), (i * 37) % 300);
          return "ended";
        })().catch((error) => cancel.signal.aborted ? "ended" : `failed: ${error}`);
        outcomes.push(await guarded(watch));
      }
      assert.deepEqual(
        outcomes.map((o, i) => `${i}: ${o}`).filter((o) => !o.endsWith("ended")),
        [],
      );
    });
  } finally {
    await client.delete(podsPath(ns, pod), { gracePeriodSeconds: 0 }).catch(() => {});
    client.close();
    await cluster.stop();
  }
});
