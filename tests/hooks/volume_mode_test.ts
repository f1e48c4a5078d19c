/**
 * Volume mode: the runner pod's `_work` is a PVC, and the job pod mounts the same claim at /__w
 * instead of receiving copies. The simulator's `<work>` is the claim's directory, as in a runner
 * pod; a real runner pod exists, so the job pod is pinned to its node and owned by it.
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { type ClusterAccess, startTestCluster } from "../cluster/harness.ts";
import { jobContainer, RunnerSim } from "../support/runner_sim.ts";

const RUNNER = "runner-vol";
const CLAIM = "runner-vol-work";

Deno.test("volume mode shares the runner's work volume with the job pod", async () => {
  await using cluster = await startTestCluster();
  await create(cluster, "persistentvolumeclaims", {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: CLAIM },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
  });
  await create(cluster, "pods", {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: RUNNER },
    spec: { containers: [{ name: "runner", image: "busybox", command: ["sleep", "3600"] }] },
  });
  let work: string | undefined;
  // A real cluster binds the claim a moment later (provisioner, then the volume controller).
  for (let i = 0; i < 300 && !work; i++) {
    work = await cluster.claimHostPath("default", CLAIM);
    if (!work) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(work, "the claim is bound to a host directory");

  await using sim = await RunnerSim.create({
    work,
    env: {
      KUBECONFIG: cluster.kubeconfigPath,
      KUBEHOOK_CONTEXT: "runner",
      ACTIONS_RUNNER_POD_NAME: RUNNER,
      ACTIONS_RUNNER_CLAIM_NAME: CLAIM,
      ACTIONS_RUNNER_IMAGE: "ghcr.io/actions/actions-runner:latest",
    },
  });
  await Deno.writeTextFile(`${sim.workspace}/checked-out.txt`, "from the runner\n");

  const prepared = await sim.prepareJob({ container: jobContainer("busybox"), services: [] });
  assert.equal(prepared.code, 0, prepared.stderr);
  assert.equal(prepared.runnerError, undefined);
  assert.doesNotMatch(prepared.stdout, /Copied \d+ entr/, "volume mode copies nothing");

  const pod = (await pods(cluster)).find((p) => p.metadata?.name === `${RUNNER}-workflow`);
  assert.ok(pod, "the job pod exists");
  assertMountsClaim(pod);
  assert.equal(pod.metadata?.ownerReferences?.[0]?.name, RUNNER, "the runner pod owns it");
  const node = (await pods(cluster)).find((p) => p.metadata?.name === RUNNER)?.spec?.nodeName;
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  assert.deepEqual(
    terms?.nodeSelectorTerms[0].matchFields?.[0].values,
    [node],
    "on the runner's node",
  );

  const step = await sim.scriptStep(
    'cat checked-out.txt; echo "answer=42" >> "$GITHUB_OUTPUT"; echo "from the pod" > made-in-pod.txt',
    { env: { SECRET_ISH: "a 'quoted' $value" } },
  );
  assert.equal(step.code, 0, step.stderr);
  assert.match(step.stdout, /from the runner/);
  assert.equal(step.fileCommands?.output.answer, "42");
  assert.equal(await Deno.readTextFile(`${sim.workspace}/made-in-pod.txt`), "from the pod\n");

  const cleaned = await sim.cleanupJob();
  assert.equal(cleaned.code, 0, cleaned.stderr);
  const left = (await pods(cluster)).map((p) => p.metadata?.name);
  assert.deepEqual(left, [RUNNER], "only the runner pod is left");
});

async function pods(cluster: ClusterAccess): Promise<V1Pod[]> {
  return (await (await cluster.fetch("/api/v1/namespaces/default/pods")).json()).items;
}

async function create(cluster: ClusterAccess, resource: string, body: unknown): Promise<void> {
  const response = await cluster.fetch(`/api/v1/namespaces/default/${resource}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 201, await response.text());
}

function assertMountsClaim(pod: V1Pod): void {
  const work = pod.spec?.volumes?.find((v) => v.persistentVolumeClaim?.claimName === CLAIM);
  assert.ok(work, "the job pod mounts the runner's claim");
  const job = pod.spec?.containers.find((c) => c.name === "job");
  assert.ok(job?.volumeMounts?.some((m) => m.name === work.name && m.mountPath === "/__w"));
}
