/**
 * The real tier itself: it comes up with a Ready node and the three contexts, serves the
 * catalogue (a private image only with its credentials), counts requests, and leaves nothing
 * behind when stopped: no process, mount, cgroup, veth or directory. Runs only with
 * KUBEHOOK_TEST_CLUSTER=real (it builds Kubernetes on first use).
 */
import assert from "node:assert/strict";
import { testTier } from "../cluster/harness.ts";
import { startRealCluster } from "./mod.ts";

const ignore = testTier() !== "real";

async function leftovers(stateDir: string, veth: string): Promise<string[]> {
  const found: string[] = [];
  const mounts = await Deno.readTextFile("/proc/self/mountinfo");
  if (mounts.includes(stateDir)) found.push(`a mount under ${stateDir}`);
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
    if (cmdline.includes(stateDir)) found.push(`process ${entry.name}: ${cmdline.slice(0, 80)}`);
  }
  for await (const hierarchy of Deno.readDir("/sys/fs/cgroup")) {
    if (!hierarchy.isDirectory) continue;
    for await (const entry of Deno.readDir(`/sys/fs/cgroup/${hierarchy.name}`)) {
      if (entry.name.startsWith("kubehook-")) found.push(`cgroup ${hierarchy.name}/${entry.name}`);
    }
  }
  const links = new TextDecoder().decode(
    (await new Deno.Command("ip", { args: ["-o", "link"], stdout: "piped" }).output()).stdout,
  );
  if (links.includes(veth)) found.push(`veth ${veth}`);
  if (await Deno.stat(stateDir).then(() => true, () => false)) found.push(stateDir);
  return found;
}

Deno.test({ name: "the real tier starts, serves, and leaves nothing", ignore }, async (t) => {
  const cluster = await startRealCluster();
  const stateDir = cluster.stateDir;
  const veths = new TextDecoder().decode(
    (await new Deno.Command("ip", { args: ["-o", "link"], stdout: "piped" }).output()).stdout,
  ).match(/ (kh[0-9a-f]{6})@/g) ?? [];
  try {
    await t.step("a Ready node, and the contexts of the embedded cluster", async () => {
      const nodes = await cluster.kubectl(["get", "nodes"]);
      assert.match(nodes.stdout, / Ready /, nodes.stderr);
      const who = await cluster.kubectl([
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
      ], {
        context: "runner",
      });
      assert.equal(who.stdout, "system:serviceaccount:default:kubehook-runner", who.stderr);
    });

    await t.step("a private image pulls only with its credentials", async () => {
      const run = (name: string, secret?: string) =>
        cluster.kubectl(["apply", "-f", "-"], {
          stdin: JSON.stringify({
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name },
            spec: {
              restartPolicy: "Never",
              containers: [{
                name: "c",
                image: "registry.local/private/tools:1.0",
                command: ["true"],
              }],
              ...(secret ? { imagePullSecrets: [{ name: secret }] } : {}),
            },
          }),
        });
      await cluster.kubectl([
        "create",
        "secret",
        "docker-registry",
        "robot",
        "--docker-server=registry.local",
        "--docker-username=robot",
        "--docker-password=s3cret",
      ]);
      await run("without");
      const denied = await cluster.kubectl([
        "wait",
        "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=ErrImagePull",
        "pod/without",
        "--timeout=60s",
      ]);
      assert.equal(denied.code, 0, denied.stderr);
      await run("with", "robot");
      const pulled = await cluster.kubectl([
        "wait",
        "--for=jsonpath={.status.phase}=Succeeded",
        "pod/with",
        "--timeout=60s",
      ]);
      assert.equal(pulled.code, 0, pulled.stderr);
    });

    await t.step("the front door counts requests and injects faults", async () => {
      await (await cluster.fetch("/_cluster/stats", { method: "DELETE" })).body?.cancel();
      await cluster.addFaults({ kind: "api-error", status: 503, method: "GET", path: "/pods$" });
      const failed = await cluster.fetch("/api/v1/namespaces/default/pods");
      assert.equal(failed.status, 503, await failed.text());
      const listed = await cluster.fetch("/api/v1/namespaces/default/pods");
      assert.equal(listed.status, 200, await listed.text());
      const stats = await (await cluster.fetch("/_cluster/stats")).json();
      assert.equal(stats.requests["list pods"], 2);
      const refused = await cluster.fetch("/_cluster/stats", { context: "runner" });
      assert.equal(refused.status, 403, await refused.text());
    });
  } finally {
    await cluster.stop();
  }
  const left = await leftovers(stateDir, veths[0]?.trim().replace(/@$/, "") ?? "none");
  assert.deepEqual(left, [], "the stopped cluster left these behind");
});
