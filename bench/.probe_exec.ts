import type { V1Pod } from "@kubernetes/client-node";
import { startCluster } from "../tests/cluster/harness.ts";
import { KubeClient } from "../src/kube/client.ts";
import { loadKubeAccess } from "../src/kube/config.ts";
import { openExec } from "../src/kube/exec.ts";
import { podsPath } from "../src/kube/paths.ts";
import { packHostTree } from "../src/transfer/host_pack.ts";
const base = await Deno.makeTempDir({ dir: "/dev/shm" });
await using cluster = await startCluster({ stateDir: `${base}/cluster` });
const access = await loadKubeAccess({ KUBECONFIG: cluster.kubeconfigPath });
const client = new KubeClient(access);
const ns = access.namespace;
await client.create<V1Pod>(podsPath(ns), {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "p" },
  spec: { containers: [{ name: "job", image: "debian", command: ["sleep", "3600"] }] },
});
for await (const e of client.watch<V1Pod>(podsPath(ns))) {
  if (e.object.status?.phase === "Running") break;
}
async function send(cmd: string, src: () => Promise<ReadableStream<Uint8Array>>) {
  const s = await openExec(client, {
    namespace: ns,
    pod: "p",
    container: "job",
    command: ["sh", "-c", cmd],
    stdin: true,
  });
  const t0 = performance.now();
  const stream = await src();
  await Promise.all([
    stream.pipeTo(s.stdin!),
    s.stdout.cancel(),
    new Response(s.stderr).text(),
    s.result,
  ]);
  return performance.now() - t0;
}
const chunk = new Uint8Array(65536);
const zeros0 = () => Promise.resolve(ReadableStream.from([]));
const zeros = () =>
  Promise.resolve(ReadableStream.from((function* () {
    for (let i = 0; i < 3200; i++) yield chunk;
  })()));
import { copyToPod } from "../src/transfer/copy.ts";
for (const tree of ["/dev/shm/big", "/dev/shm/small"]) {
  for (let i = 0; i < 3; i++) {
    console.log(
      tree,
      "pack -> cat",
      (await send("cat >/dev/null", async () => (await packHostTree(tree)).stream)).toFixed(0),
    );
    console.log(
      tree,
      "pack -> tar x in pod",
      (await send(
        "rm -rf /tmp/x; mkdir /tmp/x; tar -x -f - -C /tmp/x",
        async () => (await packHostTree(tree)).stream,
      )).toFixed(0),
    );
    console.log(
      tree,
      "pack -> tar xv|wc in pod",
      (await send(
        "rm -rf /tmp/x; mkdir /tmp/x; tar -x -v -f - -C /tmp/x | wc -l",
        async () => (await packHostTree(tree)).stream,
      )).toFixed(0),
    );
    await send("rm -rf /__w/x", zeros0);
    const t0 = performance.now();
    await copyToPod(client, { namespace: ns, pod: "p", container: "job" }, {
      hostPath: tree,
      podPath: "/__w/x",
      gzip: false,
    });
    console.log(tree, "copyToPod", (performance.now() - t0).toFixed(0));
  }
}
for (let i = 0; i < 0; i++) {
  console.log("raw 200MB -> cat >/dev/null", (await send("cat >/dev/null", zeros)).toFixed(0));
  console.log(
    "gnu tar of /dev/shm/big -> cat >/dev/null",
    (await send("cat >/dev/null", async () => (await packHostTree("/dev/shm/big")).stream)).toFixed(
      0,
    ),
  );
  console.log(
    "gnu tar of /dev/shm/big -> tar x",
    (await send(
      "rm -rf /tmp/x; mkdir /tmp/x; tar -x -f - -C /tmp/x",
      async () => (await packHostTree("/dev/shm/big")).stream,
    )).toFixed(0),
  );
}
client.close();
await cluster.stop();
await Deno.remove(base, { recursive: true });
