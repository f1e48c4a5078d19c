/**
 * The embedded cluster's registry, black-box through the API and the registry's own addresses:
 * host processes push through `proxyUrl` with credentials only; pods run pushed images (OCI and
 * Docker schema 2 manifests, by tag, by digest, by `localhost:5000`) with an imagePullSecret and
 * get containerd's words without one; pods resolve and reach `registry.local:5000`; the Kaniko
 * executor in a pod builds `FROM busybox` through the registry's Docker Hub mirror and pushes,
 * and a second pod runs the result. A cluster that never uses its registry starts none, and
 * nothing of it is left after the stop.
 */
import assert from "node:assert/strict";
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import {
  type Blob,
  pushImage,
  type Registry,
  RegistryError,
  sha256,
} from "../builder/registry_push.ts";
import { type Cluster, startCluster } from "../harness.ts";
import { processesMentioning } from "../kubelet/testing_store.ts";

const NS = "default";

/** The registry as a host process reaches it: by its pods' name, through the proxy. */
function viaProxy(cluster: Cluster, credentials = true): Registry & { client: Deno.HttpClient } {
  const { username, password, proxyUrl } = cluster.registry;
  return {
    url: `http://${cluster.registry.host}`,
    ...(credentials ? { username, password } : {}),
    client: Deno.createHttpClient({ proxy: { url: proxyUrl } }),
  };
}

/** A tar+gzip layer of `files` (path → content; `null` makes an empty file, as whiteouts are). */
async function layer(dir: string, files: Record<string, string | null>): Promise<Blob> {
  const tree = await Deno.makeTempDir({ dir });
  for (const [path, content] of Object.entries(files)) {
    await Deno.mkdir(`${tree}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
    await Deno.writeTextFile(`${tree}/${path}`, content ?? "");
  }
  const tar = await new Deno.Command("tar", {
    args: [
      "--numeric-owner",
      "--owner=0",
      "--group=0",
      "--sort=name",
      "-C",
      tree,
      "-czf",
      "-",
      ".",
    ],
    stdout: "piped",
  }).output();
  assert.ok(tar.success);
  const bytes = new Uint8Array(tar.stdout);
  return {
    digest: await sha256(bytes),
    size: bytes.length,
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
    bytes,
  };
}

async function diffId(blob: Blob): Promise<string> {
  const plain = await new Response(
    ReadableStream.from([blob.bytes!]).pipeThrough(new DecompressionStream("gzip")),
  ).arrayBuffer();
  return await sha256(new Uint8Array(plain));
}

/** The image the pods run: busybox (mounted from the mirror), a layer of data, and one that
 * empties /opt/data (opaque), adds a file there and deletes /bin/vi (whiteouts). */
async function pushApp(
  registry: Registry,
  repository: string,
  tags: string[],
  dir: string,
): Promise<{ digest: string; layers: Blob[]; config: Blob }> {
  const base = await (await fetch(`${registry.url}/v2/library/busybox/manifests/latest`, {
    headers: {
      authorization: `Basic ${btoa(`${registry.username}:${registry.password}`)}`,
      accept: "application/vnd.oci.image.manifest.v1+json",
    },
    client: registry.client,
  })).json();
  const busybox: Blob = { ...base.layers[0] };
  const busyboxConfig = await (await fetch(
    `${registry.url}/v2/library/busybox/blobs/${base.config.digest}`,
    {
      headers: { authorization: `Basic ${btoa(`${registry.username}:${registry.password}`)}` },
      client: registry.client,
    },
  )).json();
  const data = await layer(dir, {
    "opt/data/old.txt": "old\n",
    "opt/data/kept-below.txt": "below\n",
    "app/hello": [
      'echo "hello from $GREETING in $(pwd) as $(id -u)"',
      "ls /opt/data",
      "test -e /bin/vi && echo vi-present || echo vi-gone",
      "test -e /bin/sh && echo sh-present",
      "",
    ].join("\n"),
  });
  const top = await layer(dir, {
    "opt/data/.wh..wh..opq": null,
    "opt/data/new.txt": "new\n",
    "bin/.wh.vi": null,
  });
  const configBytes = new TextEncoder().encode(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    config: {
      Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=the registry"],
      Entrypoint: ["/bin/sh", "/app/hello"],
      WorkingDir: "/app",
      User: "1000",
    },
    rootfs: {
      type: "layers",
      diff_ids: [busyboxConfig.rootfs.diff_ids[0], await diffId(data), await diffId(top)],
    },
  }));
  const config: Blob = {
    digest: await sha256(configBytes),
    size: configBytes.length,
    mediaType: "application/vnd.oci.image.config.v1+json",
    bytes: configBytes,
  };
  const layers = [busybox, data, top];
  const digest = await pushImage(registry, { repository, tags, layers, config }, "library/busybox");
  return { digest, layers, config };
}

/** PUTs a Docker schema 2 manifest of the same blobs under `tag`; resolves its digest. */
async function putDockerManifest(
  registry: Registry,
  repository: string,
  tag: string,
  image: { layers: Blob[]; config: Blob },
): Promise<string> {
  const manifest = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.docker.distribution.manifest.v2+json",
    config: {
      mediaType: "application/vnd.docker.container.image.v1+json",
      size: image.config.size,
      digest: image.config.digest,
    },
    layers: image.layers.map((l) => ({
      mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
      size: l.size,
      digest: l.digest,
    })),
  }));
  const response = await fetch(`${registry.url}/v2/${repository}/manifests/${tag}`, {
    method: "PUT",
    body: manifest,
    headers: {
      "content-type": "application/vnd.docker.distribution.manifest.v2+json",
      authorization: `Basic ${btoa(`${registry.username}:${registry.password}`)}`,
    },
    client: registry.client,
  });
  assert.equal(response.status, 201, await response.text());
  return await sha256(manifest);
}

async function api<T>(cluster: Cluster, path: string, init: RequestInit = {}): Promise<T> {
  const response = await cluster.fetch(path, {
    ...init,
    headers: { "content-type": "application/json" },
  });
  const text = await response.text();
  assert.ok(response.ok, `${init.method ?? "GET"} ${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

/** A dockerconfigjson secret with robot's credentials (or `password`) for `hosts`. */
async function pullSecret(cluster: Cluster, name: string, hosts: string[], password?: string) {
  const { username } = cluster.registry;
  const pass = password ?? cluster.registry.password;
  const auths = Object.fromEntries(
    hosts.map((host) => [host, { username, password: pass, auth: btoa(`${username}:${pass}`) }]),
  );
  await api(cluster, `/api/v1/namespaces/${NS}/secrets`, {
    method: "POST",
    body: JSON.stringify({
      metadata: { name },
      type: "kubernetes.io/dockerconfigjson",
      data: { ".dockerconfigjson": btoa(JSON.stringify({ auths })) },
    }),
  });
}

async function createPod(cluster: Cluster, pod: V1Pod): Promise<void> {
  await api(cluster, `/api/v1/namespaces/${NS}/pods`, {
    method: "POST",
    body: JSON.stringify(pod),
  });
}

function pod(
  name: string,
  image: string,
  extra: Partial<V1Pod["spec"]> = {},
  command?: string[],
): V1Pod {
  return {
    metadata: { name },
    spec: {
      restartPolicy: "Never",
      containers: [{ name: "c", image, ...(command ? { command } : {}) }],
      ...extra,
    },
  } as V1Pod;
}

/** Polls the pod until `test` holds for its first container's status (60 s at most). */
async function until(
  cluster: Cluster,
  name: string,
  what: string,
  test: (status: V1ContainerStatus, pod: V1Pod) => boolean,
): Promise<V1ContainerStatus> {
  let last: V1Pod | undefined;
  for (const started = Date.now(); Date.now() - started < 60_000;) {
    last = await api<V1Pod>(cluster, `/api/v1/namespaces/${NS}/pods/${name}`);
    const status = last.status?.containerStatuses?.[0];
    if (status && test(status, last)) return status;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`pod ${name} never showed ${what}: ${JSON.stringify(last?.status)}`);
}

const finished = (s: V1ContainerStatus) => s.state?.terminated !== undefined;
const waitingIn = (...reasons: string[]) => (s: V1ContainerStatus) =>
  reasons.includes(s.state?.waiting?.reason ?? "");

async function logOf(cluster: Cluster, name: string): Promise<string> {
  const response = await cluster.fetch(`/api/v1/namespaces/${NS}/pods/${name}/log`);
  return await response.text();
}

Deno.test("the cluster's registry: push, pull, pods, and a build in a pod", async (t) => {
  const cluster = await startCluster();
  const work = await Deno.makeTempDir({ prefix: "registry-test-" });
  const stateDir = cluster.stateDir;
  const registry = viaProxy(cluster);
  const anonymous = viaProxy(cluster, false);
  let app = { digest: "", layers: [] as Blob[], config: undefined as unknown as Blob };
  try {
    await t.step("the registry starts on first use only", async () => {
      await createPod(cluster, pod("idle", "busybox", {}, ["true"]));
      await until(cluster, "idle", "completion", finished);
      assert.equal(cluster.clusterRegistry.started, false);
    });

    await t.step(
      "a busybox pod resolves registry.local and reaches it (401), starting it",
      async () => {
        const wget = "wget -S -O- http://registry.local:5000/v2/ 2>&1; true";
        await createPod(cluster, pod("wget", "busybox", {}, ["sh", "-c", wget]));
        await until(cluster, "wget", "completion", finished);
        const log = await logOf(cluster, "wget");
        assert.match(log, /HTTP\/1\.1 401 Unauthorized/, log);
        assert.match(log, /^Connecting to registry\.local:5000 \(10\.244\.0\.1:5000\)$/m, log);
        assert.equal(cluster.clusterRegistry.started, true);
      },
    );

    await t.step("a host process pushes through proxyUrl only with credentials", async () => {
      const config = new TextEncoder().encode("{}");
      const refused = await pushImage(anonymous, {
        repository: "t/app",
        tags: ["1"],
        layers: [await layer(work, { "f": "x" })],
        config: {
          digest: await sha256(config),
          size: config.length,
          mediaType: "application/vnd.oci.image.config.v1+json",
          bytes: config,
        },
      }).then(() => undefined, (error) => error);
      assert.ok(refused instanceof RegistryError, String(refused));
      assert.equal(refused.status, 401);
      assert.match(
        refused.message,
        /^HEAD http:\/\/registry\.local:5000\/v2\/t\/app\/blobs\/sha256:[0-9a-f]{64}: unexpected status code 401 Unauthorized \(HEAD responses have no body, use GET for details\)$/,
      );
      app = await pushApp(registry, "t/app", ["1", "latest"], work);
      const check = await fetch(`${registry.url}/v2/t/app/manifests/1`, {
        method: "HEAD",
        headers: {
          authorization: `Basic ${btoa(`${registry.username}:${registry.password}`)}`,
          accept: "application/vnd.oci.image.manifest.v1+json",
        },
        client: registry.client,
      });
      assert.equal(check.status, 200);
      assert.equal(check.headers.get("docker-content-digest"), app.digest);
    });

    await t.step("a pod with an imagePullSecret runs a pushed image", async () => {
      await pullSecret(cluster, "regcred", ["registry.local:5000", "localhost:5000"]);
      const image = "registry.local:5000/t/app:1";
      await createPod(cluster, pod("app", image, { imagePullSecrets: [{ name: "regcred" }] }));
      const status = await until(cluster, "app", "completion", finished);
      const log = await logOf(cluster, "app");
      assert.equal(status.state?.terminated?.exitCode, 0, log);
      assert.equal(
        log,
        "hello from the registry in /app as 1000\nnew.txt\nvi-gone\nsh-present\n",
      );
      assert.equal(status.image, image);
      assert.equal(status.imageID, `registry.local:5000/t/app@${app.digest}`);
      const events = await api<{ items: { reason: string; message: string }[] }>(
        cluster,
        `/api/v1/namespaces/${NS}/events?fieldSelector=involvedObject.name%3Dapp`,
      );
      assert.ok(
        events.items.some((e) =>
          e.reason === "Pulled" && e.message.startsWith(`Successfully pulled image "${image}"`)
        ),
        JSON.stringify(events.items),
      );
    });

    await t.step("by localhost:5000, by digest, and as a Docker schema 2 manifest", async () => {
      const docker = await putDockerManifest(registry, "t/app", "docker", app);
      const cases: [string, string, string][] = [
        ["by-node-name", "localhost:5000/t/app:1", `localhost:5000/t/app@${app.digest}`],
        [
          "by-digest",
          `registry.local:5000/t/app@${app.digest}`,
          `registry.local:5000/t/app@${app.digest}`,
        ],
        ["schema2", "registry.local:5000/t/app:docker", `registry.local:5000/t/app@${docker}`],
      ];
      for (const [name, image] of cases) {
        await createPod(cluster, pod(name, image, { imagePullSecrets: [{ name: "regcred" }] }));
      }
      for (const [name, , imageID] of cases) {
        const status = await until(cluster, name, "completion", finished);
        assert.equal(status.state?.terminated?.exitCode, 0, name);
        assert.equal(status.imageID, imageID, name);
        assert.match(await logOf(cluster, name), /^hello from the registry in \/app as 1000\n/);
      }
    });

    await t.step("a file a layer deleted is gone for the runtime too", async () => {
      await createPod(
        cluster,
        pod("no-vi", "registry.local:5000/t/app:1", { imagePullSecrets: [{ name: "regcred" }] }, [
          "vi",
        ]),
      );
      const status = await until(cluster, "no-vi", "StartError", finished);
      assert.equal(status.state?.terminated?.reason, "StartError");
      assert.match(
        status.state?.terminated?.message ?? "",
        /exec: "vi": executable file not found in \$PATH/,
      );
    });

    await t.step(
      "without the secret, with a wrong one, or an unknown tag: ErrImagePull",
      async () => {
        await pullSecret(cluster, "wrong", ["registry.local:5000"], "guess");
        const cases: [string, string, string | undefined, string][] = [
          [
            "no-secret",
            "registry.local:5000/t/app:1",
            undefined,
            'rpc error: code = Unknown desc = failed to pull and unpack image "registry.local:5000/t/app:1": ' +
            'failed to resolve reference "registry.local:5000/t/app:1": pull access denied, repository ' +
            "does not exist or may require authorization: authorization failed: no basic auth credentials",
          ],
          [
            "wrong-secret",
            "registry.local:5000/t/app:1",
            "wrong",
            'rpc error: code = Unknown desc = failed to pull and unpack image "registry.local:5000/t/app:1": ' +
            'failed to resolve reference "registry.local:5000/t/app:1": pulling from host ' +
            "registry.local:5000 failed with status code [manifests 1]: 401 Unauthorized",
          ],
          [
            "no-such-tag",
            "registry.local:5000/t/app:9",
            "regcred",
            'rpc error: code = NotFound desc = failed to pull and unpack image "registry.local:5000/t/app:9": ' +
            'failed to resolve reference "registry.local:5000/t/app:9": registry.local:5000/t/app:9: not found',
          ],
        ];
        for (const [name, image, secret] of cases) {
          // Always: the node has the image since the step before, and IfNotPresent would use
          // it without asking the registry, as kubelet does.
          const spec = pod(name, image, secret ? { imagePullSecrets: [{ name: secret }] } : {});
          spec.spec!.containers[0].imagePullPolicy = "Always";
          await createPod(cluster, spec);
        }
        for (const [name, image, , message] of cases) {
          const status = await until(
            cluster,
            name,
            "ErrImagePull",
            waitingIn("ErrImagePull", "ImagePullBackOff"),
          );
          const waiting = status.state!.waiting!;
          assert.equal(
            waiting.message,
            waiting.reason === "ErrImagePull"
              ? message
              : `Back-off pulling image "${image}": ErrImagePull: ${message}`,
          );
          const backOff = await until(
            cluster,
            name,
            "ImagePullBackOff",
            waitingIn("ImagePullBackOff"),
          );
          assert.equal(
            backOff.state?.waiting?.message,
            `Back-off pulling image "${image}": ErrImagePull: ${message}`,
          );
        }
      },
    );

    await t.step("the Kaniko executor in a pod builds FROM busybox and pushes", async () => {
      const docker = JSON.stringify({
        auths: { "registry.local:5000": { auth: btoa("robot:s3cret") } },
      });
      await api(cluster, `/api/v1/namespaces/${NS}/secrets`, {
        method: "POST",
        body: JSON.stringify({
          metadata: { name: "push" },
          type: "kubernetes.io/dockerconfigjson",
          data: { ".dockerconfigjson": btoa(docker) },
        }),
      });
      const dockerfile = [
        "FROM busybox",
        "RUN echo built-by-kaniko > /built && rm /bin/vi",
        'ENTRYPOINT ["sh", "-c", "cat /built; test -e /bin/vi || echo no-vi"]',
      ].join("\\n");
      await createPod(cluster, {
        metadata: { name: "kaniko" },
        spec: {
          restartPolicy: "Never",
          initContainers: [{
            name: "context",
            image: "busybox",
            command: ["sh", "-c", `printf '${dockerfile}\\n' > /workspace/Dockerfile`],
            volumeMounts: [{ name: "workspace", mountPath: "/workspace" }],
          }],
          containers: [{
            name: "c",
            image: "ghcr.io/osscontainertools/kaniko:latest",
            args: [
              "--dockerfile=Dockerfile",
              "--context=dir:///workspace",
              "--destination=registry.local:5000/t/x:1",
              "--registry-mirror=registry.local:5000",
              "--insecure-registry=registry.local:5000",
            ],
            volumeMounts: [
              { name: "workspace", mountPath: "/workspace" },
              { name: "docker", mountPath: "/kaniko/.docker", readOnly: true },
            ],
          }],
          volumes: [
            { name: "workspace", emptyDir: {} },
            {
              name: "docker",
              secret: {
                secretName: "push",
                items: [{ key: ".dockerconfigjson", path: "config.json" }],
              },
            },
          ],
        },
      });
      const built = await until(cluster, "kaniko", "completion", finished);
      const log = await logOf(cluster, "kaniko");
      assert.equal(built.state?.terminated?.exitCode, 0, log);
      assert.match(
        log,
        /Retrieving image registry\.local:5000\/library\/busybox:latest from mapped registry registry\.local:5000\n/,
      );
      assert.match(log, /Pushed registry\.local:5000\/t\/x@sha256:[0-9a-f]{64}\n/);
      await createPod(
        cluster,
        pod("built", "registry.local:5000/t/x:1", {
          imagePullSecrets: [{ name: "regcred" }],
        }),
      );
      const ran = await until(cluster, "built", "completion", finished);
      assert.equal(ran.state?.terminated?.exitCode, 0);
      assert.equal(await logOf(cluster, "built"), "built-by-kaniko\nno-vi\n");
    });
  } finally {
    registry.client.close();
    anonymous.client.close();
    await cluster.stop();
    await Deno.remove(work, { recursive: true });
  }
  await t.step("nothing is left after the stop: no process, socket, mount or file", async () => {
    assert.deepEqual(processesMentioning(stateDir), []);
    const mounts = await Deno.readTextFile("/proc/mounts");
    assert.ok(!mounts.includes(stateDir), mounts);
    await assert.rejects(Deno.stat(stateDir));
    const proxy = await fetch(cluster.registry.proxyUrl).then(() => "answered", () => "closed");
    assert.equal(proxy, "closed");
  });
});
