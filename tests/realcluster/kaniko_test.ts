/**
 * Builds on the real tier, with the real Kaniko: the catalogue's
 * `ghcr.io/osscontainertools/kaniko` is the fork's executor built from its sources (build.ts) and
 * laid out as the fork's image; kubehook's own builder pod (src/build/kaniko.ts) reads a
 * Dockerfile's context as a gzip tar on stdin over attach, pulls `FROM busybox` from the Docker
 * Hub mirror, and pushes to the build registry with a `kubernetes.io/dockerconfigjson` Secret;
 * the node pulls the build only with credentials and runs it. A failing RUN and an unknown
 * instruction exit non-zero in Kaniko's words, which kubehook's reading of the log finds. Host
 * processes reach the build registry through its `proxyUrl`. Runs only with
 * KUBEHOOK_TEST_CLUSTER=real, as root.
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { KANIKO } from "../../src/build/kaniko.ts";
import { CATALOGUE_TAGS } from "../cluster/kubelet/images.ts";
import { kanikoVersion } from "./build.ts";
import { KANIKO_IMAGE, KANIKO_IMAGE_CONFIG } from "./images.ts";
import { leftovers } from "./leftovers.ts";
import { type RealCluster, startRealCluster } from "./mod.ts";
import { createPod, runPod, waitPod } from "./pods.ts";
import { realTierSkipReason } from "./prerequisites.ts";

const skip = await realTierSkipReason();
if (skip) console.warn(`Skipping the real tier's Kaniko tests: ${skip}`);

const SECRET = "build-registry";
const BUILDER_IMAGE = `${KANIKO_IMAGE}:latest`;

const terminated = (pod: V1Pod) => pod.status?.containerStatuses?.[0]?.state?.terminated;

/** Runs a one-container pod to its end; its exit code and log. */
async function runToEnd(
  cluster: RealCluster,
  name: string,
  container: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<{ exitCode?: number; log: string }> {
  const pod = await runPod(
    cluster,
    name,
    { restartPolicy: "Never", containers: [{ name: "c", ...container }], ...extra },
    (p) => terminated(p) !== undefined,
  );
  const log = await cluster.kubectl(["logs", name]);
  return { exitCode: terminated(pod)?.exitCode, log: log.stdout };
}

/** A gzip tar of a build context holding only `Dockerfile`, as kubehook streams one. */
async function contextTar(dockerfile: string): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "kubehook-kaniko-context-" });
  try {
    await Deno.writeTextFile(`${dir}/Dockerfile`, dockerfile);
    const tar = await new Deno.Command("tar", {
      args: ["--numeric-owner", "-czf", "-", "-C", dir, "."],
      stdout: "piped",
    }).output();
    assert.ok(tar.success, "tar packs the context");
    return tar.stdout;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Builds `dockerfile` with kubehook's builder pod, the context sent over attach; the builder's
 * exit code and log lines (Kaniko's, colours and all). */
async function build(
  cluster: RealCluster,
  name: string,
  dockerfile: string,
  destination: string,
): Promise<{ exitCode?: number; lines: string[] }> {
  const { registry } = cluster;
  await createPod(
    cluster,
    KANIKO.pod({
      podName: name,
      labels: {},
      image: BUILDER_IMAGE,
      dockerfile: "Dockerfile",
      destination,
      registrySecret: SECRET,
      insecure: true,
      // What a user of this cluster puts in KUBEHOOK_BUILDER_ARGS: Docker Hub is out of reach.
      extraArgs: [`--registry-mirror=${registry.mirror}`, `--insecure-registry=${registry.mirror}`],
    }),
  );
  await waitPod(cluster, name, (pod) => pod.status?.phase === "Running");
  const attach = await cluster.kubectl(["attach", "-i", name, "-c", KANIKO.container], {
    stdin: await contextTar(dockerfile),
  });
  const pod = await waitPod(cluster, name, (p) => terminated(p) !== undefined);
  const log = await cluster.kubectl(["logs", name]);
  assert.equal(log.code, 0, `${log.stderr}\n(attach: ${attach.stderr})`);
  return { exitCode: terminated(pod)?.exitCode, lines: log.stdout.trimEnd().split("\n") };
}

/** A fetch from the host to the build registry by the name pods use, through its proxy. */
async function viaProxy(
  cluster: RealCluster,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const client = Deno.createHttpClient({ proxy: { url: cluster.registry.proxyUrl } });
  try {
    const response = await fetch(`http://${cluster.registry.host}${path}`, { ...init, client });
    await response.body?.cancel();
    return response;
  } finally {
    client.close();
  }
}

const basic = (cluster: RealCluster) => ({
  authorization: `Basic ${btoa(`${cluster.registry.username}:${cluster.registry.password}`)}`,
});

Deno.test({
  name: "the real tier builds with the real Kaniko, pushes to its registry, and runs the build",
  ignore: skip !== undefined,
}, async (t) => {
  const cluster = await startRealCluster();
  const { registry } = cluster;
  try {
    await t.step(
      "the build registry wants credentials; the host reaches it by proxyUrl",
      async () => {
        assert.deepEqual(
          { ...registry, proxyUrl: "" },
          {
            host: "10.88.0.1:5001",
            nodeHost: "127.0.0.1:5001",
            proxyUrl: "",
            mirror: "10.88.0.1:5000",
            username: "robot",
            password: "s3cret",
          },
        );
        const anonymous = await viaProxy(cluster, "/v2/");
        assert.equal(anonymous.status, 401);
        assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Basic /);
        assert.equal((await viaProxy(cluster, "/v2/", { headers: basic(cluster) })).status, 200);
      },
    );

    await t.step(
      "pods reach the node at the bridge's gateway: the registries, the mirror",
      async () => {
        const gateway = registry.host.split(":")[0];
        const { log } = await runToEnd(cluster, "gateway", {
          image: "busybox:1.36",
          command: [
            "sh",
            "-c",
            `ip route; wget -qO- http://${registry.host}/v2/ 2>&1; ` +
            `wget -qO- http://${registry.mirror}/v2/library/busybox/tags/list`,
          ],
        });
        assert.match(log, new RegExp(`^default via ${gateway.replaceAll(".", "\\.")} `, "m"));
        assert.match(log, /server returned error: HTTP\/1\.1 401 Unauthorized/);
        assert.match(log, /"name":"library\/busybox","tags":\[[^\]]*"latest"/);
      },
    );

    await t.step(
      "every tag of the Kaniko image is the fork's executor, laid out as its image",
      async () => {
        const version = await kanikoVersion();
        const tags = CATALOGUE_TAGS[KANIKO_IMAGE];
        const runs = await Promise.all(
          tags.map((tag, i) =>
            runToEnd(cluster, `kaniko-version-${i}`, {
              image: `${KANIKO_IMAGE}:${tag}`,
              args: ["version"],
            })
          ),
        );
        for (const run of runs) {
          assert.equal(run.exitCode, 0);
          assert.equal(run.log, `Kaniko version :  ${version}\n`);
        }
        const publicRegistry = `http://${cluster.node.ip}:5000/v2/${
          KANIKO_IMAGE.replace(/^[^/]+\//, "")
        }`;
        const manifest = await (await fetch(`${publicRegistry}/manifests/${tags[0]}`, {
          headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
        })).json();
        const config = await (await fetch(`${publicRegistry}/blobs/${manifest.config.digest}`))
          .json();
        assert.deepEqual(config.config, KANIKO_IMAGE_CONFIG);
        assert.equal(manifest.layers.length, 1);
        const layer = await fetch(`${publicRegistry}/blobs/${manifest.layers[0].digest}`);
        const listing = new Deno.Command("tar", {
          args: ["-tvf", "-"],
          stdin: "piped",
          stdout: "piped",
        })
          .spawn();
        await layer.body!.pipeTo(listing.stdin);
        const entries = new TextDecoder().decode((await listing.output()).stdout).trim().split("\n")
          .map((line) => line.split(/\s+/)).map((f) => `${f[0]} ${f[1]} ${f[5]}`);
        assert.deepEqual(entries, [
          "drwxr-xr-x 0/0 ./",
          "drwxr-xr-x 0/0 ./etc/",
          "-rw-r--r-- 0/0 ./etc/nsswitch.conf",
          "drwxrwxrwx 0/0 ./kaniko/",
          "drwxr-xr-x 0/0 ./kaniko/.docker/",
          "-rwxr-xr-x 0/0 ./kaniko/executor",
          "drwxr-xr-x 0/0 ./kaniko/ssl/",
          "drwxr-xr-x 0/0 ./kaniko/ssl/certs/",
          "-rw-r--r-- 0/0 ./kaniko/ssl/certs/ca-certificates.crt",
          "drwxr-xr-x 0/0 ./workspace/",
        ]);
      },
    );

    await t.step("a Dockerfile sent over attach builds FROM the mirror and is pushed", async () => {
      // One credential for each name the registry goes by: the builder's and the node's.
      const auth = { auth: btoa(`${registry.username}:${registry.password}`) };
      const dockerconfig = { auths: { [registry.host]: auth, [registry.nodeHost]: auth } };
      const secret = await cluster.kubectl([
        "create",
        "secret",
        "generic",
        SECRET,
        "--type=kubernetes.io/dockerconfigjson",
        `--from-literal=.dockerconfigjson=${JSON.stringify(dockerconfig)}`,
      ]);
      assert.equal(secret.code, 0, secret.stderr);
      const { exitCode, lines } = await build(
        cluster,
        "build-made",
        'FROM busybox\nRUN echo made > /made\nENTRYPOINT ["cat","/made"]\n',
        `${registry.host}/t/x:1`,
      );
      const text = lines.join("\n");
      assert.equal(exitCode, 0, text);
      // Kaniko's default log format colours the level: `\x1b[36mINFO\x1b[0m[0001] RUN ...`.
      const info = (message: string) =>
        new RegExp(`^\\x1b\\[36mINFO\\x1b\\[0m\\[\\d{4}\\] ${message}`, "m");
      assert.match(
        text,
        info("Retrieving image busybox from mapped registry 10\\.88\\.0\\.1:5000"),
      );
      assert.match(text, info("RUN echo made > /made +$"));
      assert.match(text, info('ENTRYPOINT \\["cat","/made"\\] +$'));
      assert.match(text, info("Pushing image to 10\\.88\\.0\\.1:5001/t/x:1 +$"));
      const pushed = text.match(info("Pushed 10\\.88\\.0\\.1:5001/t/x@(sha256:[0-9a-f]{64}) *$"));
      assert.ok(pushed, text);
      assert.equal(KANIKO.lastInstruction(lines), 'ENTRYPOINT ["cat","/made"]');
      assert.equal(KANIKO.failure(lines), undefined);
      // What kubehook asks before it builds: the tag is there, by the digest Kaniko pushed.
      const head = await viaProxy(cluster, "/v2/t/x/manifests/1", {
        method: "HEAD",
        headers: { ...basic(cluster), accept: "application/vnd.oci.image.manifest.v1+json" },
      });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("docker-content-digest"), pushed[1]);
    });

    await t.step("the node pulls the build only with credentials, and it runs", async () => {
      const image = `${registry.nodeHost}/t/x:1`;
      const run = await runToEnd(cluster, "run-made", { image }, {
        imagePullSecrets: [{ name: SECRET }],
      });
      assert.deepEqual(run, { exitCode: 0, log: "made\n" });
      const denied = await runPod(
        cluster,
        "run-anonymous",
        { containers: [{ name: "c", image, imagePullPolicy: "Always" }] },
        (pod) => pod.status?.containerStatuses?.[0]?.state?.waiting?.reason === "ErrImagePull",
      );
      assert.match(
        denied.status!.containerStatuses![0].state!.waiting!.message!,
        /401 Unauthorized/,
      );
    });

    const failures = [
      {
        what: "a failing RUN exits with its status, and Kaniko names the command",
        dockerfile: "FROM busybox\nRUN exit 3\n",
        exitCode: 3,
        instruction: "RUN exit 3",
        failure: "error building image: error building stage: failed to execute command: " +
          "waiting for process to exit: exit status 3",
      },
      {
        what: "an unknown instruction fails the parse, before any pull",
        dockerfile: "FROM busybox\nFOO bar\n",
        exitCode: 1,
        instruction: undefined,
        failure: "error building image: parsing dockerfile: dockerfile parse error on line 2: " +
          "unknown instruction: FOO (did you mean FROM?)",
      },
    ];
    for (const [i, expected] of failures.entries()) {
      await t.step(expected.what, async () => {
        const repository = `t/broken-${i}`;
        const { exitCode, lines } = await build(
          cluster,
          `build-broken-${i}`,
          expected.dockerfile,
          `${registry.host}/${repository}:1`,
        );
        assert.equal(exitCode, expected.exitCode, lines.join("\n"));
        assert.equal(KANIKO.lastInstruction(lines), expected.instruction);
        assert.equal(KANIKO.failure(lines), expected.failure);
        const notPushed = await viaProxy(cluster, `/v2/${repository}/manifests/1`, {
          method: "HEAD",
          headers: basic(cluster),
        });
        assert.equal(notPushed.status, 404);
      });
    }
  } finally {
    await cluster.stop();
  }
  assert.deepEqual(await leftovers(cluster), [], "the stopped cluster left these behind");
  const closed = await fetch(cluster.registry.proxyUrl).then(
    (response) => response.body?.cancel().then(() => "open"),
    () => "closed",
  );
  assert.equal(closed, "closed", "the registry's forwarder stops with the cluster");
});
