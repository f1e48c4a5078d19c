/**
 * The exec WebSocket against the local cluster: output channels, exit codes, stdin with EOF,
 * start failures, missing permissions, connections that drop or stall mid-command, v4, and
 * memory that stays flat while a reader is slower than the command's output.
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { startCluster } from "../cluster/harness.ts";
import { KubeClient } from "../../src/kube/client.ts";
import { loadKubeAccess } from "../../src/kube/config.ts";
import { KubeApiError } from "../../src/kube/errors.ts";
import { type ExecResult, openExec } from "../../src/kube/exec.ts";
import { Channel, exitCodeFromStatus } from "../../src/kube/exec_channels.ts";
import { podsPath, podSubresourcePath } from "../../src/kube/paths.ts";
import { connectWebSocket } from "../../src/kube/websocket.ts";
import { commandPod } from "../support/pods.ts";

interface Outcome {
  result: ExecResult;
  stdout: string;
  stderr: string;
}

Deno.test("exec against the local cluster", async (t) => {
  const cluster = await startCluster();
  const access = await loadKubeAccess({ KUBECONFIG: cluster.kubeconfigPath });
  const client = new KubeClient(access, { retry: { baseDelayMs: 20 } });
  const namespace = access.namespace;
  const pod = "exec-pod";

  /** Runs `command` in the pod, feeding `stdin` when given, and collects everything. */
  async function run(
    command: string[],
    options: { stdin?: Uint8Array; idleTimeoutMs?: number; via?: KubeClient } = {},
  ): Promise<Outcome> {
    const session = await openExec(options.via ?? client, {
      namespace,
      pod,
      container: "main",
      command,
      stdin: options.stdin !== undefined,
      idleTimeoutMs: options.idleTimeoutMs,
    });
    assert.equal(session.protocol, "v5.channel.k8s.io");
    const feed = options.stdin &&
      ReadableStream.from([options.stdin]).pipeTo(session.stdin!);
    const [result, stdout, stderr] = await Promise.all([
      session.result,
      new Response(session.stdout).text(),
      new Response(session.stderr).text(),
      feed,
    ]);
    return { result, stdout, stderr };
  }

  try {
    await client.create<V1Pod>(
      podsPath(namespace),
      commandPod(pod, ["sleep", "3600"], {}, "busybox"),
    );
    for await (
      const event of client.watch<V1Pod>(podsPath(namespace), {
        fieldSelector: `metadata.name=${pod}`,
      })
    ) {
      if (event.object.status?.phase === "Running") break;
    }

    await t.step("stdout, stderr and the exit code arrive apart", async () => {
      assert.deepEqual(await run(["sh", "-c", "echo out; echo err >&2; exit 7"]), {
        result: { kind: "exited", exitCode: 7 },
        stdout: "out\n",
        stderr: "err\n",
      });
      assert.deepEqual((await run(["true"])).result, { kind: "exited", exitCode: 0 });
    });

    await t.step("stdin reaches the command, and closing it is its EOF", async () => {
      const big = new Uint8Array(3 * 1024 * 1024 + 17).fill(0x61);
      const counted = await run(["wc", "-c"], { stdin: big });
      assert.deepEqual(counted.result, { kind: "exited", exitCode: 0 });
      assert.equal(counted.stdout.trim(), String(big.length));
      const echoed = await run(["cat"], { stdin: new TextEncoder().encode("line 1\nlīne 2\n") });
      assert.equal(echoed.stdout, "line 1\nlīne 2\n");
    });

    await t.step("a 503 on the upgrade is retried (the command had not started)", async () => {
      await cluster.addFaults({
        kind: "api-error",
        status: 503,
        count: 1,
        method: "GET",
        path: `/pods/${pod}/exec$`,
      });
      assert.deepEqual((await run(["sh", "-c", "echo once"])).stdout, "once\n");
      const pending = await (await cluster.fetch("/_cluster/faults")).json();
      assert.deepEqual(pending, [], "the fault never hit the upgrade");
    });

    await t.step("a command that cannot start rejects with the server's reason", async () => {
      await assert.rejects(() => run(["/no/such/program"]), (err: KubeApiError) => {
        assert.equal(err.status, 500);
        assert.match(err.message, /exec into pod "exec-pod"/);
        return true;
      });
    });

    await t.step("a missing pod is a 404 with the server's message", async () => {
      await assert.rejects(
        () => openExec(client, { namespace, pod: "no-such-pod", command: ["true"], stdin: false }),
        (err: KubeApiError) => err.status === 404 && /"no-such-pod" not found/.test(err.message),
      );
    });

    await t.step("without pods/exec, the error shows the Role rule to add", async () => {
      const restricted = new KubeClient(
        await loadKubeAccess({
          KUBECONFIG: cluster.kubeconfigPath,
          KUBEHOOK_CONTEXT: "restricted",
        }),
      );
      try {
        await assert.rejects(() => run(["true"], { via: restricted }), (err: KubeApiError) => {
          assert.equal(err.status, 403);
          assert.match(err.message, /resources: \["pods\/exec"\]\n\s+verbs: \["get", "create"\]/);
          return true;
        });
      } finally {
        restricted.close();
      }
    });

    await t.step("a server that speaks only v4 is served under v4", async () => {
      const path = podSubresourcePath(namespace, pod, "exec");
      const ws = await connectWebSocket(
        client.access,
        client.url(path, { command: ["sh", "-c", "echo four; exit 4"], stdout: true }),
        { protocols: ["v4.channel.k8s.io"], headers: client.authHeaders() },
      );
      assert.equal(ws.protocol, "v4.channel.k8s.io");
      const frames = await Array.fromAsync(ws.messages);
      const stdout = frames.filter((f) => f[0] === Channel.stdout).map((f) => f.subarray(1));
      assert.equal(
        new TextDecoder().decode(new Uint8Array(stdout.flatMap((b) => [...b]))),
        "four\n",
      );
      const status = frames.find((f) => f[0] === Channel.status)!;
      assert.equal(exitCodeFromStatus(status.subarray(1), path), 4);
    });

    await t.step("a slow reader of a large stdout keeps memory flat", async () => {
      const size = 300_000_000;
      const session = await openExec(client, {
        namespace,
        pod,
        container: "main",
        command: ["head", "-c", String(size), "/dev/zero"],
        stdin: false,
      });
      const before = Deno.memoryUsage().rss;
      let peak = before;
      const sample = () => void (peak = Math.max(peak, Deno.memoryUsage().rss));
      const stderr = new Response(session.stderr).text();
      const reader = session.stdout.getReader();
      let read = (await reader.read()).value!.length;
      // The reader stops for a while, as a busy extractor does; the command could write all of
      // its output meanwhile.
      for (let i = 0; i < 15; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        sample();
      }
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        if (Math.floor(read / 8e6) !== Math.floor((read + chunk.value.length) / 8e6)) sample();
        read += chunk.value.length;
      }
      assert.deepEqual(await session.result, { kind: "exited", exitCode: 0 });
      assert.equal(await stderr, "");
      assert.equal(read, size);
      const growthMb = (peak - before) / 1e6;
      // Measured on 2 cores (the cluster shares this process): 56–78 MB with backpressure; with
      // exec_output.ts's hasRoom always true (the socket read ahead of the reader), 338–348 MB.
      assert.ok(growthMb < 200, `RSS grew by ${growthMb.toFixed(0)} MB while reading slowly`);
    });

    await t.step("a dropped connection is 'lost' with the output up to the drop", async () => {
      await cluster.addFaults({ kind: "exec-drop", afterBytes: 6, count: 1 });
      const outcome = await run(["sh", "-c", "echo one; sleep 1; echo two"]);
      assert.equal(outcome.result.kind, "lost");
      // The fault lets exactly 6 bytes of output through: all of them arrive, nothing after.
      assert.equal(outcome.stdout, "one\ntw");
    });

    await t.step("a stalled connection is 'lost' after the idle timeout", async () => {
      await cluster.addFaults({ kind: "exec-stall", afterBytes: 4, count: 1 });
      const outcome = await run(
        ["sh", "-c", "while true; do echo beat; sleep 0.1; done"],
        { idleTimeoutMs: 500 },
      );
      assert.deepEqual(outcome.result, { kind: "lost", reason: "no frame arrived for 500 ms" });
    });
  } finally {
    await client.delete(podsPath(namespace, pod), { gracePeriodSeconds: 0 }).catch(() => {});
    client.close();
    await cluster.stop();
  }
});
