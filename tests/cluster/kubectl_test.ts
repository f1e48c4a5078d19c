/**
 * The proof that the local cluster speaks the real protocol: the unmodified kubectl (1.30 or
 * newer, default settings, strict validation) drives a whole cluster — API server and bwrap
 * kubelet — through get, apply/create/run, wait, exec, logs -f, cp, auth can-i, events and
 * delete.
 */
import assert from "node:assert/strict";
import { type ClusterAccess, kubectlSkipReason, startTestCluster } from "./harness.ts";
import type { Identity } from "./api/authz.ts";

const skip = await kubectlSkipReason();
if (skip) console.warn(`Skipping the kubectl proof tests: ${skip}`);

const MANIFEST = `apiVersion: v1
kind: Pod
metadata:
  name: applied
  labels: {app: proof}
spec:
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "echo applied-started; exec sleep 3600"]
`;

async function ok(cluster: ClusterAccess, args: string[], options = {}): Promise<string> {
  const result = await cluster.kubectl(args, options);
  assert.equal(result.code, 0, `kubectl ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

async function makeTree(root: string): Promise<void> {
  await Deno.mkdir(`${root}/dir with space/empty`, { recursive: true });
  await Deno.mkdir(`${root}/ünï cödé`, { recursive: true });
  await Deno.writeTextFile(`${root}/dir with space/file one.txt`, "a b\n");
  await Deno.writeTextFile(`${root}/ünï cödé/名前.txt`, "日本\n");
  await Deno.symlink("../ünï cödé/名前.txt", `${root}/dir with space/link`);
}

Deno.test({
  name: "kubectl against the local cluster",
  ignore: skip !== undefined,
  async fn(t) {
    await using cluster = await startTestCluster();
    const work = `${cluster.stateDir}/work`;
    await Deno.mkdir(work);

    await t.step("apply -f and create -f with strict validation; run", async () => {
      assert.match(
        await ok(cluster, ["apply", "-f", "-"], { stdin: MANIFEST }),
        /pod\/applied created/,
      );
      const again = await cluster.kubectl(["create", "-f", "-"], { stdin: MANIFEST });
      assert.equal(again.code, 1);
      assert.match(again.stderr, /AlreadyExists.*pods "applied" already exists/);
      await ok(cluster, ["run", "shell", "--image=busybox", "--", "sh", "-c", "exec sleep 3600"]);
    });

    await t.step("create secret and namespace (protobuf bodies); get secrets", async () => {
      await ok(cluster, ["create", "namespace", "extra"]);
      await ok(cluster, [
        "create",
        "secret",
        "docker-registry",
        "reg",
        "--docker-server=registry.local",
        "--docker-username=robot",
        "--docker-password=s3cret",
      ]);
      await ok(cluster, [
        "create",
        "secret",
        "generic",
        "plain",
        "-n",
        "extra",
        "--from-literal=k=v",
      ]);
      assert.match(
        await ok(cluster, ["get", "secrets"]),
        /reg\s+kubernetes.io\/dockerconfigjson\s+1\s+/,
      );
      assert.equal(
        await ok(cluster, ["get", "secret", "plain", "-n", "extra", "-o", "jsonpath={.data.k}"]),
        btoa("v"),
      );
      await ok(cluster, ["delete", "namespace", "extra"]);
    });

    await t.step("wait --for=condition=Ready and get pods -o wide", async () => {
      await ok(cluster, [
        "wait",
        "--for=condition=Ready",
        "pod/applied",
        "pod/shell",
        "--timeout=60s",
      ]);
      const lines = (await ok(cluster, ["get", "pods", "-o", "wide"])).trim().split("\n");
      assert.match(lines[0], /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+/);
      assert.match(lines.find((l) => l.startsWith("applied"))!, /^applied\s+1\/1\s+Running\s+0\s+/);
    });

    await t.step("exec: stdout, stderr, stdin and the exit code", async () => {
      const result = await cluster.kubectl([
        "exec",
        "shell",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
      ]);
      assert.equal(result.code, 3);
      assert.equal(result.stdout, "out\n");
      assert.match(result.stderr, /^err\n/);
      assert.equal(
        await ok(cluster, ["exec", "-i", "shell", "--", "cat"], { stdin: "piped in\n" }),
        "piped in\n",
      );
    });

    await t.step("logs and logs -f until the container ends", async () => {
      assert.equal(await ok(cluster, ["logs", "applied"]), "applied-started\n");
      await ok(cluster, [
        "run",
        "counter",
        "--restart=Never",
        "--image=busybox",
        "--",
        "sh",
        "-c",
        // The container holds on until told to finish: a container that lives under a second may
        // never be seen Ready by a real kubelet, and `logs -f` is to follow a running one.
        "echo line 1; until [ -e /tmp/finish ]; do sleep 0.1; done; echo line 2; echo line 3",
      ]);
      await ok(cluster, ["wait", "--for=condition=Ready", "pod/counter", "--timeout=60s"]);
      const followed = ok(cluster, ["logs", "-f", "counter"]);
      await ok(cluster, ["exec", "counter", "--", "touch", "/tmp/finish"]);
      assert.equal(await followed, "line 1\nline 2\nline 3\n");
    });

    await t.step(
      "cp a tree with spaces, unicode, a symlink and an empty directory both ways",
      async () => {
        await makeTree(`${work}/tree`);
        await ok(cluster, ["cp", `${work}/tree`, "shell:/tmp/tree"]);
        const listing = await ok(cluster, ["exec", "shell", "--", "find", "/tmp/tree"]);
        for (
          const path of ["dir with space/empty", "dir with space/file one.txt", "ünï cödé/名前.txt"]
        ) {
          assert.ok(listing.includes(`/tmp/tree/${path}\n`), `${path} arrived in the pod`);
        }
        const link = await ok(cluster, [
          "exec",
          "shell",
          "--",
          "readlink",
          "/tmp/tree/dir with space/link",
        ]);
        assert.equal(link, "../ünï cödé/名前.txt\n");
        const back = await cluster.kubectl(["cp", "shell:/tmp/tree", `${work}/back`]);
        assert.equal(back.code, 0, back.stderr);
        // kubectl itself skips symlinks when copying out of a pod, and says so.
        assert.match(back.stderr, /skipping symlink/);
        assert.equal(await Deno.readTextFile(`${work}/back/ünï cödé/名前.txt`), "日本\n");
        assert.equal(await Deno.readTextFile(`${work}/back/dir with space/file one.txt`), "a b\n");
        assert.ok((await Deno.stat(`${work}/back/dir with space/empty`)).isDirectory);
      },
    );

    await t.step("run -i attaches with stdin; the exit code comes from the pod", async () => {
      const result = await cluster.kubectl(
        [
          "run",
          "-i",
          "attached",
          "--image=busybox",
          "--restart=Never",
          "--",
          "sh",
          "-c",
          "read x; echo got $x; exit 4",
        ],
        { stdin: "hello\n" },
      );
      assert.equal(result.code, 4, result.stderr);
      assert.equal(result.stdout, "got hello\n");
      assert.doesNotMatch(result.stderr, /falling back/);
    });

    await t.step("auth can-i answers per context; restricted cannot exec", async () => {
      const canI = async (context: Identity, ...args: string[]) =>
        (await cluster.kubectl(["auth", "can-i", ...args], { context })).stdout.trim();
      assert.equal(await canI("admin", "delete", "namespaces"), "yes");
      assert.equal(await canI("runner", "create", "pods", "--subresource=exec"), "yes");
      assert.equal(await canI("runner", "get", "pods", "--subresource=exec"), "yes");
      assert.equal(await canI("runner", "get", "pods", "--subresource=log"), "yes");
      assert.equal(await canI("runner", "list", "namespaces"), "no");
      assert.equal(await canI("runner", "create", "persistentvolumeclaims"), "no");
      assert.equal(await canI("restricted", "create", "pods", "--subresource=exec"), "no");
      assert.equal(await canI("restricted", "create", "pods"), "yes");
      assert.equal(await canI("runner", "create", "pods", "-n", "kube-system"), "no");
      assert.equal(
        await canI("runner", "patch", "pods", "--subresource=ephemeralcontainers"),
        "yes",
      );
      const denied = await cluster.kubectl(["exec", "shell", "--", "true"], {
        context: "restricted",
      });
      assert.notEqual(denied.code, 0);
      assert.match(
        denied.stderr,
        /Forbidden.*system:serviceaccount:default:kubehook-restricted.*"pods\/exec"/,
      );
    });

    await t.step(
      "debug adds an ephemeral container that shares the target's processes",
      async () => {
        await ok(cluster, [
          "debug",
          "shell",
          "--image=distroless.local/app:1",
          "--container=probe",
          "--target=shell",
          "--",
          "/app",
          "sh",
          "-c",
          "ps -o args | grep -c '^sleep 3600$'; exit 4",
        ]);
        await ok(cluster, [
          "wait",
          "--for=jsonpath={.status.ephemeralContainerStatuses[0].state.terminated.exitCode}=4",
          "pod/shell",
          "--timeout=30s",
        ]);
        assert.equal((await ok(cluster, ["logs", "shell", "-c", "probe"])).trim(), "1");
        const changed = await cluster.kubectl([
          "patch",
          "pod",
          "shell",
          "--subresource=ephemeralcontainers",
          "--type=strategic",
          "-p",
          '{"spec":{"ephemeralContainers":[{"name":"probe","image":"busybox:1.36"}]}}',
        ]);
        assert.notEqual(changed.code, 0, "an ephemeral container was changed");
        assert.match(changed.stderr, /existing ephemeral containers "probe" may not be changed/);
      },
    );

    await t.step("get events shows the scheduler's and the kubelet's reasons", async () => {
      const events = await ok(cluster, ["get", "events"]);
      assert.match(events.split("\n")[0], /LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE/);
      for (const reason of ["Scheduled", "Pulled", "Started"]) {
        assert.match(events, new RegExp(`Normal\\s+${reason}\\s+pod/shell`));
      }
    });

    await t.step("delete removes pods", async () => {
      await ok(cluster, [
        "delete",
        "pod",
        "applied",
        "shell",
        "counter",
        "attached",
        "--grace-period=1",
      ]);
      assert.match((await cluster.kubectl(["get", "pods"])).stderr, /No resources found/);
    });
  },
});
