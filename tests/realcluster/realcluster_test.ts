/**
 * The real tier itself: it comes up with a Ready node and the four contexts, serves the
 * catalogue (a private image only with its credentials) to pods that reach each other by IP,
 * and its front door gives the embedded cluster's faults and stats: api-error, exec-drop and
 * exec-stall after N bytes of output, log-drop after N bytes of log, unschedulable (a cordon),
 * evict (the Eviction API), pod-start-delay refused. Stopped, it leaves nothing: no process,
 * mount, cgroup, veth or directory. Runs only with KUBEHOOK_TEST_CLUSTER=real, as root (the
 * first start builds Kubernetes); the tier-independent kubectl proofs (run, exec, logs, cp,
 * auth can-i, strict decoding, missing tags) are tests/cluster/kubectl_test.ts and
 * fidelity_test.ts, which run on this tier too.
 */
import assert from "node:assert/strict";
import { type RealCluster, startRealCluster } from "./mod.ts";
import { realTierSkipReason } from "./prerequisites.ts";
import { leftovers } from "./leftovers.ts";
import { deletePod, NS, runPod, waitPod } from "./pods.ts";
import { concat } from "../../src/bytes.ts";
import { type Frame, FrameDecoder, Opcode } from "../../src/kube/websocket_frames.ts";

const skip = await realTierSkipReason();
if (skip) console.warn(`Skipping the real-Kubernetes tier's tests: ${skip}`);

/** A pod that sleeps, from `image`. */
const sleeper = (image = "busybox:1.36") => ({
  terminationGracePeriodSeconds: 0,
  containers: [{ name: "c", image, command: ["sleep", "3600"] }],
});

/** An exec of `script` in `pod` through the front door, as a bare v5 client sees it: every
 * frame, until the server closes (a close frame or the connection) or, after `hangUpAfterMs`,
 * the client hangs up. */
async function execThroughFront(
  cluster: RealCluster,
  pod: string,
  script: string,
  hangUpAfterMs = 20_000,
): Promise<{ frames: Frame[]; stdout: string; status?: string }> {
  const { hostname, port } = new URL(cluster.url);
  const conn = await Deno.connectTls({ hostname, port: Number(port), caCerts: [cluster.caPem] });
  const query = new URLSearchParams([
    ["command", "sh"],
    ["command", "-c"],
    ["command", script],
    ["stdout", "true"],
  ]);
  await conn.write(new TextEncoder().encode(
    `GET ${NS}/pods/${pod}/exec?${query} HTTP/1.1\r\nHost: ${hostname}\r\n` +
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
      `Sec-WebSocket-Key: ${btoa("kubehook-realtst")}\r\n` +
      "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n" +
      `Authorization: Bearer ${cluster.tokens.admin}\r\n\r\n`,
  ));
  const hangUp = setTimeout(() => conn.close(), hangUpAfterMs);
  const frames: Frame[] = [];
  const decoder = new FrameDecoder();
  let head: Uint8Array | undefined = new Uint8Array(0);
  try {
    for await (const chunk of conn.readable) {
      let data: Uint8Array = chunk;
      if (head) {
        head = concat([head, chunk]);
        const end = new TextDecoder().decode(head).indexOf("\r\n\r\n");
        if (end < 0) continue;
        assert.match(new TextDecoder().decode(head.subarray(0, 12)), /^HTTP\/1\.1 101/);
        data = head.subarray(end + 4);
        head = undefined;
      }
      frames.push(...decoder.push(data));
      if (frames.some((f) => f.opcode === Opcode.close)) break;
    }
  } catch {
    // Cut (exec-drop), or hung up here.
  } finally {
    clearTimeout(hangUp);
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
  const payloads = frames.filter((f) => f.opcode === Opcode.binary).map((f) => f.payload);
  const text = (channel: number) =>
    new TextDecoder().decode(
      concat(payloads.filter((p) => p[0] === channel).map((p) => p.subarray(1))),
    );
  return { frames, stdout: text(1), status: text(3) || undefined };
}

Deno.test({
  name: "the real tier starts, serves, and leaves nothing",
  ignore: skip !== undefined,
}, async (t) => {
  const cluster = await startRealCluster();
  try {
    await t.step("a Ready node, and the contexts of the embedded cluster", async () => {
      const nodes = await cluster.kubectl(["get", "nodes"]);
      assert.match(nodes.stdout, / Ready /, nodes.stderr);
      for (
        const [context, user] of [
          ["runner", "system:serviceaccount:default:kubehook-runner"],
          ["builder", "system:serviceaccount:default:kubehook-builder"],
          ["restricted", "system:serviceaccount:default:kubehook-restricted"],
        ] as const
      ) {
        const who = await cluster.kubectl(
          ["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"],
          { context },
        );
        assert.equal(who.stdout, user, who.stderr);
      }
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
      await cluster.kubectl(["delete", "pod", "with", "without", "--grace-period=0"]);
    });

    await t.step("the catalogue's images hold what the embedded ones hold", async () => {
      const cases: [string, string, string[] | undefined, RegExp][] = [
        ["alpine:3.20", "alpine", [
          "sh",
          "-c",
          "cat /etc/alpine-release; . /etc/os-release; echo $ID",
        ], /^3\.20\.3\nalpine\n$/],
        ["debian:12", "debian", [
          "bash",
          "-c",
          "tar --version | head -1; node -e 'console.log(1 + 1)'",
        ], /^tar \(GNU tar\).*\n2\n$/],
        ["ubuntu:24.04", "ubuntu", [
          "bash",
          "-c",
          ". /etc/os-release; echo $ID; find --version | head -1",
        ], /^ubuntu\nfind \(GNU findutils\)/],
        ["ghcr.io/actions/actions-runner:latest", "runner", [
          "bash",
          "-c",
          "id -u; pwd; /home/runner/externals/node20/bin/node -e 'console.log(3)'",
        ], /^1001\n\/home\/runner\n3\n$/],
        ["distroless.local/app:1", "distroless", [
          "/app",
          "sh",
          "-c",
          "ls /; test -e /bin/sh || echo no-sh",
        ], /^app\n(dev\n)?(etc\n)?proc\n(run\n)?sys\n(var\n)?no-sh\n$/],
        ["busybox:1.36", "busybox", undefined, /^$/],
      ];
      await Promise.all(cases.map(([image, name, command]) =>
        runPod(cluster, `image-${name}`, {
          restartPolicy: "Never",
          containers: [{ name: "c", image, ...(command ? { command } : { args: ["true"] }) }],
        }, (pod) => ["Succeeded", "Failed"].includes(pod.status?.phase ?? ""))
      ));
      for (const [image, name, , expected] of cases) {
        const logs = await cluster.kubectl(["logs", `image-${name}`]);
        assert.match(logs.stdout, expected, `${image}: ${logs.stdout}${logs.stderr}`);
      }
      const noShell = await runPod(cluster, "no-shell", {
        restartPolicy: "Never",
        containers: [{ name: "c", image: "distroless.local/app:1", command: ["sh", "-c", "true"] }],
      }, (pod) => pod.status?.containerStatuses?.[0]?.state?.terminated !== undefined);
      const terminated = noShell.status?.containerStatuses?.[0]?.state?.terminated;
      assert.equal(terminated?.reason, "StartError", JSON.stringify(terminated));
      assert.match(terminated?.message ?? "", /"sh": executable file not found/);
      await cluster.kubectl(["delete", "pods", "--all", "--grace-period=0"]);
    });

    await t.step("pods reach each other by pod IP (nginx serves its page)", async () => {
      const web = await runPod(cluster, "web", {
        containers: [{ name: "nginx", image: "nginx:1.27", ports: [{ containerPort: 80 }] }],
      });
      await runPod(cluster, "client", sleeper());
      const got = await cluster.kubectl([
        "exec",
        "client",
        "--",
        "wget",
        "-qO-",
        `http://${web.status?.podIP}/`,
      ]);
      assert.match(got.stdout, /Welcome to nginx!/, got.stderr);
    });

    await t.step("api-error answers once; requests are counted; stats are admin-only", async () => {
      await (await cluster.fetch("/_cluster/stats", { method: "DELETE" })).body?.cancel();
      await cluster.addFaults({ kind: "api-error", status: 503, method: "GET", path: "/pods$" });
      const failed = await cluster.fetch(`${NS}/pods`);
      assert.equal(failed.status, 503);
      assert.equal((await failed.json()).reason, "ServiceUnavailable");
      const listed = await cluster.fetch(`${NS}/pods`);
      assert.equal(listed.status, 200, await listed.text());
      const stats = await (await cluster.fetch("/_cluster/stats")).json();
      assert.equal(stats.requests["list pods"], 2);
      const refused = await cluster.fetch("/_cluster/stats", { context: "runner" });
      assert.equal(refused.status, 403, await refused.text());
    });

    await t.step("exec-drop cuts after N bytes of output; the process runs on", async () => {
      await cluster.addFaults({ kind: "exec-drop", afterBytes: 5 });
      const cut = await execThroughFront(
        cluster,
        "client",
        "echo 0123456789; sleep 1; touch /tmp/still-running",
      );
      assert.equal(cut.stdout, "01234");
      assert.equal(cut.status, undefined, "no status");
      assert.ok(cut.frames.every((f) => f.opcode === Opcode.binary), "no close frame");
      assert.deepEqual(await (await cluster.fetch("/_cluster/faults")).json(), []);
      let ran = false;
      for (let i = 0; i < 50 && !ran; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        ran = (await cluster.kubectl(["exec", "client", "--", "test", "-f", "/tmp/still-running"]))
          .code === 0;
      }
      assert.ok(ran, "the process ran on after the cut");
      const stats = await (await cluster.fetch("/_cluster/stats")).json();
      assert.ok(stats.execSessions >= 1, JSON.stringify(stats));
    });

    await t.step("exec-stall goes silent after N bytes: no status, no close", async () => {
      await cluster.addFaults({ kind: "exec-stall", afterBytes: 4 });
      const stalled = await execThroughFront(
        cluster,
        "client",
        "echo 0123456789; sleep 0.2; echo more",
        3000,
      );
      assert.deepEqual(stalled.frames.map((f) => f.opcode), [Opcode.binary, Opcode.binary]);
      assert.equal(stalled.stdout, "0123");
      const whole = await execThroughFront(cluster, "client", "echo whole; exit 3");
      assert.equal(whole.stdout, "whole\n");
      assert.match(whole.status ?? "", /NonZeroExitCode/);
    });

    await t.step("log-drop cuts a followed log after N bytes of text", async () => {
      await runPod(cluster, "talker", {
        containers: [{
          name: "c",
          image: "busybox:1.36",
          command: ["sh", "-c", "echo hello; echo world; sleep 3600"],
        }],
      });
      await cluster.addFaults({ kind: "log-drop", afterBytes: 8 });
      const response = await cluster.fetch(`${NS}/pods/talker/log?follow=true`);
      assert.equal(response.status, 200);
      const reader = response.body!.getReader();
      let text = "";
      let broke = false;
      const giveUp = setTimeout(() => reader.cancel(), 10_000);
      try {
        while (true) {
          const { done, value } = await reader.read();
          if (done) break;
          text += new TextDecoder().decode(value);
        }
      } catch {
        broke = true;
      }
      clearTimeout(giveUp);
      assert.equal(text, "hello\nwo");
      assert.ok(broke, "the log stream broke instead of ending");
    });

    await t.step("unschedulable: the scheduler refuses the next pod, in its words", async () => {
      await cluster.addFaults({ kind: "unschedulable", count: 1 });
      const refused = await runPod(
        cluster,
        "refused",
        sleeper(),
        (pod) =>
          pod.status?.conditions?.some((c) =>
            c.type === "PodScheduled" && c.reason === "Unschedulable"
          ) ?? false,
      );
      const condition = refused.status?.conditions?.find((c) => c.type === "PodScheduled");
      assert.match(condition?.message ?? "", /node\(s\) were unschedulable/);
      for (let i = 0; i < 50; i++) {
        const left = await (await cluster.fetch("/_cluster/faults")).json();
        if (left.length === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual(await (await cluster.fetch("/_cluster/faults")).json(), []);
      // The refused pod stays refused while it exists; once it is gone, pods schedule again.
      await deletePod(cluster, "refused");
      await runPod(cluster, "after", sleeper());
      await deletePod(cluster, "after");
    });

    await t.step("evict goes through the Eviction API; pod-start-delay is refused", async () => {
      await cluster.addFaults({ kind: "evict", pod: "talker" });
      const evicted = await waitPod(
        cluster,
        "talker",
        (pod) =>
          pod.status?.conditions?.some((c) =>
            c.type === "DisruptionTarget" && c.reason === "EvictionByEvictionAPI"
          ) ?? (pod as { code?: number }).code === 404,
      );
      assert.ok(evicted);
      const missing = await cluster.fetch("/_cluster/faults", {
        method: "POST",
        body: JSON.stringify({ kind: "evict", pod: "no-such-pod" }),
      });
      assert.equal(missing.status, 404, await missing.text());
      await cluster.addFaults({ kind: "exec-drop", afterBytes: 1 });
      const delay = await cluster.fetch("/_cluster/faults", {
        method: "POST",
        body: JSON.stringify({ kind: "pod-start-delay", ms: 1000 }),
      });
      assert.equal(delay.status, 400);
      assert.match((await delay.json()).message, /no real-Kubernetes counterpart/);
      const left = await (await cluster.fetch("/_cluster/faults")).json();
      assert.deepEqual(left.map((f: { kind: string }) => f.kind), ["exec-drop"]);
      await cluster.clearFaults();
    });
  } finally {
    await cluster.stop();
  }
  assert.deepEqual(await leftovers(cluster), [], "the stopped cluster left these behind");
});
