/**
 * Stopping the cluster must not wait for exec sessions whose client is gone: their processes keep
 * running in the pod (as on a real node) until the kubelet's shutdown kills them. A hook test that
 * fails before cleanup_job leaves exactly that behind.
 */
import assert from "node:assert/strict";
import { loadKubeAccess } from "../../src/kube/config.ts";
import { KubeClient } from "../../src/kube/client.ts";
import { openExec } from "../../src/kube/exec.ts";
import { startCluster } from "./harness.ts";

Deno.test("stop ends while an orphaned exec process still runs in a pod", async () => {
  const cluster = await startCluster();
  const client = new KubeClient(await loadKubeAccess({ KUBECONFIG: cluster.kubeconfigPath }));
  try {
    const created = await cluster.kubectl([
      "run",
      "bb",
      "--image=busybox",
      "--restart=Never",
      "--",
      "sleep",
      "600",
    ]);
    assert.equal(created.code, 0, created.stderr);
    const ready = await cluster.kubectl([
      "wait",
      "--for=condition=Ready",
      "pod/bb",
      "--timeout=60s",
    ]);
    assert.equal(ready.code, 0, ready.stderr);
    const session = await openExec(client, {
      namespace: "default",
      pod: "bb",
      command: ["sh", "-c", "echo looping; while :; do sleep 1; done"],
      stdin: false,
    });
    const reader = session.stdout.getReader();
    await reader.read();
    reader.releaseLock();
    session.close();
    assert.equal((await session.result).kind, "lost");
  } finally {
    client.close();
    // A hang here is the failure: bound it so the suite reports it instead of never ending.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stopped = await Promise.race([
      cluster.stop().then(() => true),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), 30_000)),
    ]).finally(() => clearTimeout(timer));
    assert.ok(stopped, "cluster.stop() still waits for the orphaned exec session after 30 s");
  }
});
