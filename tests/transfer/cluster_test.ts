/**
 * Workspace transfers against the local cluster: round trips host → pod → host into busybox and
 * debian containers, incremental syncs that move only what changed, exec connections that drop
 * or stall mid-copy, a pod whose `tar` fails, and hostile archives sent back by a fake `tar` in
 * the container (nothing may appear outside the host target).
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { startTestCluster } from "../cluster/harness.ts";
import { KubeClient } from "../../src/kube/client.ts";
import { loadKubeAccess } from "../../src/kube/config.ts";
import { execIn, openExec } from "../../src/kube/exec.ts";
import { podsPath } from "../../src/kube/paths.ts";
import { copyFromPod, copyToPod, type PodTarget } from "../../src/transfer/copy.ts";
import { listHostChanges, syncMarkNow } from "../../src/transfer/host_changes.ts";
import { podMarkScript } from "../../src/transfer/pod_scripts.ts";
import { buildArchive } from "./tar_builder.ts";
import { makeFidelityTree, type Snapshot, snapshot, withoutDirMtimes } from "./tree.ts";

const IMAGES = { busybox: "busybox", debian: "debian" } as const;

Deno.test("workspace transfer against the local cluster", async (t) => {
  await using cluster = await startTestCluster();
  const access = await loadKubeAccess({ KUBECONFIG: cluster.kubeconfigPath });
  const client = new KubeClient(access, { retry: { baseDelayMs: 20 } });
  const exec = execIn(client);
  const namespace = access.namespace;
  const base = await Deno.makeTempDir({ prefix: "kubehook-transfer-cluster-" });
  const target = (image: keyof typeof IMAGES): PodTarget => ({
    namespace,
    pod: `transfer-${image}`,
    container: "job",
  });

  /** Runs a shell command in the pod; returns its exit code and output. */
  async function sh(pod: PodTarget, script: string, stdin?: Uint8Array) {
    const session = await openExec(client, {
      ...pod,
      command: ["sh", "-c", script],
      stdin: stdin !== undefined,
    });
    const feeding = stdin && ReadableStream.from([stdin]).pipeTo(session.stdin!);
    const [result, stdout, stderr] = await Promise.all([
      session.result,
      new Response(session.stdout).text(),
      new Response(session.stderr).text(),
      feeding,
    ]);
    assert.equal(result.kind, "exited", `exec of ${script} was lost`);
    return { code: result.kind === "exited" ? result.exitCode : -1, stdout, stderr };
  }

  async function fresh(name: string): Promise<string> {
    const dir = `${base}/${name}`;
    await Deno.mkdir(dir, { recursive: true });
    return dir;
  }

  try {
    for (const [image, ref] of Object.entries(IMAGES)) {
      await client.create<V1Pod>(podsPath(namespace), {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `transfer-${image}` },
        spec: {
          restartPolicy: "Never",
          containers: [{ name: "job", image: ref, command: ["sleep", "3600"] }],
        },
      });
    }
    const running = new Set<string>();
    for await (const event of client.watch<V1Pod>(podsPath(namespace))) {
      if (event.object.status?.phase === "Running") running.add(event.object.metadata!.name!);
      if (running.size === Object.keys(IMAGES).length) break;
    }

    for (const image of Object.keys(IMAGES) as (keyof typeof IMAGES)[]) {
      await t.step(`${image}: every fidelity case round-trips host → pod → host`, async () => {
        const host = await fresh(`${image}/host`);
        const back = await fresh(`${image}/back`);
        await makeFidelityTree(host);
        const sent = await copyToPod(exec, target(image), {
          hostPath: host,
          podPath: "/__w",
          gzip: image === "debian",
        });
        const original = await snapshot(host);
        assert.equal(sent.entries, Object.keys(original).length);
        assert.equal(sent.attempts, 1);
        const got = await copyFromPod(exec, target(image), {
          hostPath: back,
          podPath: "/__w",
          gzip: image === "busybox",
        });
        assert.deepEqual(got.rejected.map((r) => r.name), ["./abs-link"]);
        const comparable = image === "debian" ? (s: Snapshot) => s : withoutDirMtimes;
        delete original["abs-link"];
        assert.deepEqual(comparable(await snapshot(back)), comparable(original));
      });
    }

    await t.step("incremental sync moves only what changed, both ways", async () => {
      const pod = target("debian");
      const host = await fresh("incremental/host");
      const back = await fresh("incremental/back");
      for (let i = 0; i < 200; i++) await Deno.writeTextFile(`${host}/f${i}.txt`, `${i}`);
      await Deno.mkdir(`${host}/_temp/_runner_file_commands`, { recursive: true });
      await copyToPod(exec, pod, { hostPath: host, podPath: "/__w/inc", gzip: false });
      await new Promise((resolve) => setTimeout(resolve, 20)); // the runner's next write is later
      const mark = await syncMarkNow();
      await Deno.writeTextFile(`${host}/_temp/step.sh`, "echo step");
      await Deno.writeTextFile(`${host}/_temp/_runner_file_commands/set_env_1`, "");
      await Deno.writeTextFile(`${host}/f7.txt`, "seven");
      const { paths } = await listHostChanges(host, mark);
      assert.equal(paths.length, 5); // _temp, step.sh, the file-command dir and file, f7.txt
      const sent = await copyToPod(exec, pod, {
        hostPath: host,
        podPath: "/__w/inc",
        paths,
        gzip: false,
      });
      assert.equal(sent.entries, 5);

      // As in a step: the marker right after the incoming files, then the step's own changes.
      const marker = "/__w/.kubehook/step-1";
      assert.equal((await sh(pod, podMarkScript(marker))).code, 0);
      const step = await sh(
        pod,
        "cd /__w/inc && echo out > new.txt && echo 'A=1' >> _temp/_runner_file_commands/set_env_1",
      );
      assert.equal(step.code, 0, step.stderr);
      const got = await copyFromPod(exec, pod, {
        hostPath: back,
        podPath: "/__w/inc",
        since: marker,
        always: ["_temp/_runner_file_commands"],
        gzip: false,
      });
      const returned = Object.keys(await snapshot(back));
      for (const changed of ["new.txt", "_temp/_runner_file_commands/set_env_1"]) {
        assert.ok(returned.includes(changed), `${changed} did not come back`);
      }
      // Only the step's changes and, at most, the files sent in just before the marker.
      const allowed = new Set(["new.txt", ...paths]);
      assert.deepEqual(returned.filter((p) => !allowed.has(p)), []);
      assert.ok(got.entries <= 7, `${got.entries} entries came back`);
      assert.equal(
        await Deno.readTextFile(`${back}/_temp/_runner_file_commands/set_env_1`),
        "A=1\n",
      );
    });

    await t.step("a dropped or stalled exec is retried and the copy completes", async () => {
      const host = await fresh("faults/host");
      const back = await fresh("faults/back");
      await makeFidelityTree(host);
      // Cut at the very start, and cut after tar finished but before the exit status arrived.
      await cluster.addFaults([{ kind: "exec-drop", afterBytes: 0, count: 1 }, {
        kind: "exec-drop",
        afterBytes: 1,
        count: 1,
      }]);
      const sent = await copyToPod(exec, target("debian"), {
        hostPath: host,
        podPath: "/__w/faults",
        gzip: false,
      });
      assert.equal(sent.attempts, 3);
      // Cut, then stall, in the middle of the stream coming back.
      await cluster.addFaults([{ kind: "exec-drop", afterBytes: 50_000, count: 1 }, {
        kind: "exec-stall",
        afterBytes: 80_000,
        count: 1,
      }]);
      const got = await copyFromPod(exec, target("debian"), {
        hostPath: back,
        podPath: "/__w/faults",
        gzip: false,
        stallTimeoutMs: 1000,
      });
      assert.equal(got.attempts, 3);
      const original = await snapshot(host);
      delete original["abs-link"];
      assert.deepEqual(await snapshot(back), original);
    });

    await t.step(
      "a connection that keeps breaking ends in an error naming both paths",
      async () => {
        const host = await fresh("broken/host");
        await Deno.writeTextFile(`${host}/a`, "a");
        await cluster.addFaults({ kind: "exec-drop", afterBytes: 0, count: 2 });
        await assert.rejects(
          copyToPod(exec, target("debian"), {
            hostPath: host,
            podPath: "/__w/b",
            gzip: false,
            attempts: 2,
          }),
          (err: Error) => {
            assert.match(
              err.message,
              /Could not copy .*broken\/host to \/__w\/b in container "job"/,
            );
            assert.match(err.message, /broke 2 times/);
            return true;
          },
        );
      },
    );

    await t.step("a pod whose tar fails makes the copy fail loudly", async () => {
      const pod = target("debian");
      const host = await fresh("failing/host");
      await Deno.writeTextFile(`${host}/a`, "a");
      const fake = "printf '#!/bin/sh\\necho \"tar: simulated failure\" >&2\\nexit 2\\n' " +
        "> /usr/local/bin/tar && chmod +x /usr/local/bin/tar";
      assert.equal((await sh(pod, fake)).code, 0);
      try {
        await assert.rejects(
          copyToPod(exec, pod, { hostPath: host, podPath: "/__w/fail", gzip: false }),
          (err: Error) => {
            assert.match(err.message, /tar in the pod exited with code 2/);
            assert.match(err.message, /simulated failure/);
            return true;
          },
        );
      } finally {
        await sh(pod, "rm -f /usr/local/bin/tar");
      }
    });

    await t.step("a corrupt archive back from the pod is reported as such, once", async () => {
      const pod = target("debian");
      const archive = buildArchive([{ name: "first.txt", data: "fine" }, {
        name: "second.txt",
        data: "x",
      }]);
      // The second header's checksum no longer matches: no tar wrote this.
      archive[1024 + 100] ^= 0x01;
      assert.equal((await sh(pod, "cat > /tmp/corrupt.tar", archive)).code, 0);
      const fake = "printf '#!/bin/sh\\ncat /tmp/corrupt.tar\\n' > /usr/local/bin/tar && " +
        "chmod +x /usr/local/bin/tar";
      assert.equal((await sh(pod, fake)).code, 0);
      const scene = await fresh("corrupt");
      try {
        await assert.rejects(
          copyFromPod(exec, pod, { hostPath: scene, podPath: "/__w/faults", gzip: false }),
          (err: Error) => {
            assert.equal(err.name, "TransferError", err.message);
            assert.match(err.message, /checksum/i);
            assert.doesNotMatch(err.message, /broke \d+ times|connection/);
            return true;
          },
        );
      } finally {
        await sh(pod, "rm -f /usr/local/bin/tar /tmp/corrupt.tar");
      }
    });

    await t.step(
      "hostile archives from a fake tar in the pod cannot escape the target",
      async () => {
        const pod = target("debian");
        const hostile = buildArchive([
          { name: "../escaped", data: "pwned" },
          { name: "/tmp/kubehook-escaped", data: "pwned" },
          { name: "link", typeflag: "2", linkname: "../outside" },
          { name: "link/secret", data: "pwned" },
          { name: "inner", typeflag: "2", linkname: "real" },
          { name: "real/", typeflag: "5" },
          { name: "inner/x", data: "through a link" },
          { name: "hard", typeflag: "1", linkname: "../outside/secret" },
          { name: "dev", typeflag: "3" },
          { name: "ok.txt", data: "fine" },
          // A listing that would have the host delete outside the target, and in it.
          {
            name: "./.kubehook/listing",
            data: ["./../outside/.", "./../outside/./x", "./.", "././ok.txt", ""].join("\0"),
          },
        ]);
        assert.equal((await sh(pod, "cat > /tmp/evil.tar", hostile)).code, 0);
        const fake = "printf '#!/bin/sh\\ncat /tmp/evil.tar\\n' > /usr/local/bin/tar && " +
          "chmod +x /usr/local/bin/tar";
        assert.equal((await sh(pod, fake)).code, 0);
        const scene = await fresh("hostile");
        await Deno.mkdir(`${scene}/target`);
        await Deno.mkdir(`${scene}/outside`);
        await Deno.writeTextFile(`${scene}/outside/secret`, "untouched");
        await Deno.mkdir(`${scene}/target/real`);
        await Deno.writeTextFile(`${scene}/target/real/kept`, "in a directory the archive holds");
        await Deno.writeTextFile(`${scene}/target/stale`, "not in the pod's listing");
        try {
          const got = await copyFromPod(exec, pod, {
            hostPath: `${scene}/target`,
            podPath: "/__w/faults",
            gzip: false,
            listing: true,
          });
          assert.deepEqual(
            [...new Set(got.rejected.map((r) => r.name))].sort(),
            [
              "../escaped",
              "/tmp/kubehook-escaped",
              "dev",
              "hard",
              "inner/x",
              "link",
              "./../outside",
            ].sort(),
          );
          assert.equal(got.deleted, 1, "only target/stale is deleted");
          const all = await snapshot(scene);
          assert.deepEqual(
            Object.keys(all).filter((p) => !p.startsWith("target/")).sort(),
            ["outside", "outside/secret", "target"],
          );
          assert.equal(await Deno.readTextFile(`${scene}/outside/secret`), "untouched");
          assert.equal(
            await Deno.lstat("/tmp/kubehook-escaped").then(() => true, () => false),
            false,
          );
          assert.equal(await Deno.readTextFile(`${scene}/target/ok.txt`), "fine");
        } finally {
          await sh(pod, "rm -f /usr/local/bin/tar /tmp/evil.tar");
        }
      },
    );
  } finally {
    client.close();
    await Deno.remove(base, { recursive: true });
  }
});
