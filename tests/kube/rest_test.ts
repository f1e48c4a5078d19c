/**
 * The REST client against the local cluster: create/get/list/delete of secrets and pods, watch,
 * and retries under injected API faults.
 */
import assert from "node:assert/strict";
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import { startCluster } from "../cluster/harness.ts";
import { KubeClient } from "../../src/kube/client.ts";
import { loadKubeAccess } from "../../src/kube/config.ts";
import { KubeApiError } from "../../src/kube/errors.ts";
import { podsPath, secretsPath } from "../../src/kube/paths.ts";
import { commandPod } from "../support/pods.ts";

const LABEL = "kubehook-test=rest";
/** Ends a watch that would otherwise wait forever when the awaited event never comes. */
const HANG_GUARD_MS = 60_000;

Deno.test("KubeClient against the local cluster", async (t) => {
  const cluster = await startCluster();
  const access = await loadKubeAccess({ KUBECONFIG: cluster.kubeconfigPath });
  // Short waits keep the test fast; three attempts make "retried" and "gave up" tell apart.
  const client = new KubeClient(access, { retry: { attempts: 3, baseDelayMs: 20 } });
  const ns = access.namespace;
  try {
    await t.step("secrets: create, get, list by label, delete, delete again", async () => {
      const created = await client.create<V1Secret>(secretsPath(ns), {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "rest-secret", labels: { "kubehook-test": "rest" } },
        data: { key: btoa("value") },
      });
      assert.ok(created.metadata?.uid);
      const got = await client.get<V1Secret>(secretsPath(ns, "rest-secret"));
      assert.equal(atob(got.data!.key), "value");
      const list = await client.list<V1Secret>(secretsPath(ns), { labelSelector: LABEL });
      assert.deepEqual(list.items.map((s) => s.metadata?.name), ["rest-secret"]);
      await assert.rejects(
        () => client.create(secretsPath(ns), { ...created, metadata: { name: "rest-secret" } }),
        (err: KubeApiError) => err.status === 409 && err.reason === "AlreadyExists",
      );
      await client.delete(secretsPath(ns, "rest-secret"));
      assert.equal(await client.delete(secretsPath(ns, "rest-secret")), undefined);
      await assert.rejects(
        () => client.get(secretsPath(ns, "rest-secret")),
        (err: KubeApiError) =>
          err.status === 404 &&
          err.message.includes(`get secret "rest-secret" in namespace "${ns}"`),
      );
    });

    await t.step("pods: create, watch until running, delete and watch it go", async () => {
      const pod = await client.create<V1Pod>(
        podsPath(ns),
        commandPod(
          "rest-pod",
          ["sleep", "3600"],
          { labels: { "kubehook-test": "rest" } },
          "busybox",
        ),
      );
      const seen: string[] = [];
      for await (
        const event of client.watch<V1Pod>(podsPath(ns), {
          fieldSelector: "metadata.name=rest-pod",
          resourceVersion: pod.metadata?.resourceVersion,
        }, AbortSignal.timeout(HANG_GUARD_MS))
      ) {
        seen.push(event.type);
        if (event.object.status?.phase === "Running") break;
      }
      assert.equal(seen.at(-1), "MODIFIED");
      const { items } = await client.list<V1Pod>(podsPath(ns), { labelSelector: LABEL });
      assert.deepEqual(items.map((p) => p.status?.phase), ["Running"]);
      const deleting = await client.delete<V1Pod>(podsPath(ns, "rest-pod"), {
        gracePeriodSeconds: 0,
      });
      assert.ok(deleting?.metadata?.deletionTimestamp || deleting?.kind === "Status");
      // From the deletion's resourceVersion, so a removal that already happened is replayed.
      const abort = new AbortController();
      let deleted = false;
      for await (
        const event of client.watch<V1Pod>(podsPath(ns), {
          fieldSelector: "metadata.name=rest-pod",
          resourceVersion: deleting?.metadata?.resourceVersion,
        }, AbortSignal.any([abort.signal, AbortSignal.timeout(HANG_GUARD_MS)]))
      ) {
        deleted = event.type === "DELETED";
        if (deleted) abort.abort();
      }
      assert.ok(deleted, "the watch ended without a DELETED event");
      assert.equal(await client.delete(podsPath(ns, "rest-pod")), undefined);
    });

    await t.step("503 on GET is retried until the attempts run out", async () => {
      const path = secretsPath(ns);
      await cluster.addFaults({ kind: "api-error", status: 503, count: 2, method: "GET", path });
      assert.deepEqual((await client.list(path)).items, []);
      await cluster.addFaults({ kind: "api-error", status: 503, count: 3, method: "GET", path });
      await assert.rejects(() => client.list(path), (err: KubeApiError) => err.status === 503);
      assert.deepEqual((await client.list(path)).items, []);
    });

    await t.step("POST repeats after 429 but not after 500", async () => {
      const path = secretsPath(ns);
      const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "rest-429" } };
      await cluster.addFaults({ kind: "api-error", status: 429, count: 2, method: "POST", path });
      await client.create(path, secret);
      await client.delete(secretsPath(ns, "rest-429"));
      await cluster.addFaults({ kind: "api-error", status: 500, count: 1, method: "POST", path });
      await assert.rejects(
        () => client.create(path, secret),
        (err: KubeApiError) => err.status === 500,
      );
      assert.equal(await client.delete(secretsPath(ns, "rest-429")), undefined);
    });
  } finally {
    client.close();
    await cluster.stop();
  }
});
