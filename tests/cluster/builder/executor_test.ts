/**
 * The executor run as the builder pod runs it (`deno run executor.ts` with Kaniko's flags, the
 * context as a gzip tar on stdin, credentials in `$DOCKER_CONFIG/config.json`) against a real
 * registry (Debian's docker-registry with htpasswd auth), the base image being the catalogue's
 * busybox pushed there first and pulled through `--registry-mirror`. Checks what was pushed:
 * manifest, config, layers; and that without a mirror Docker Hub names go to Docker Hub, which
 * these machines cannot reach, as Kaniko words it.
 */
import assert from "node:assert/strict";
import { pushBusybox, ROBOT, startRegistry, type TestRegistry } from "./test_registry.ts";

const EXECUTOR = new URL("./executor.ts", import.meta.url).pathname;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function withRegistry(test: (registry: TestRegistry, work: string) => Promise<void>) {
  const registry = await startRegistry();
  const work = await Deno.makeTempDir({ prefix: "kaniko-test-" });
  try {
    await pushBusybox(registry.registry, registry.dir);
    await Deno.mkdir(`${work}/docker`);
    await writeDockerConfig(work, registry.host, ROBOT.password);
    await test(registry, work);
  } finally {
    await registry.stop();
    await Deno.remove(work, { recursive: true });
  }
}

async function writeDockerConfig(work: string, host: string, password: string) {
  await Deno.writeTextFile(
    `${work}/docker/config.json`,
    JSON.stringify({ auths: { [host]: { auth: btoa(`${ROBOT.username}:${password}`) } } }),
  );
}

/** Runs the executor with `files` as the context, sent as a gzip tar on stdin; Docker Hub names
 * come from the test registry (`--registry-mirror`) unless `mirror` is false. */
async function build(
  work: string,
  registry: TestRegistry,
  files: Record<string, string>,
  args: string[],
  mirror = true,
): Promise<Result> {
  const context = `${work}/context-${crypto.randomUUID()}`;
  await Deno.mkdir(context);
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${context}/${name}`, text);
  }
  const tar = await new Deno.Command("tar", {
    args: ["-czf", "-", "-C", context, "."],
    stdout: "piped",
  })
    .output();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      EXECUTOR,
      "--dockerfile=Dockerfile",
      "--context=tar://stdin",
      ...(mirror ? [`--registry-mirror=${registry.host}`] : []),
      "--cache=false",
      "--verbosity=info",
      ...args,
    ],
    env: { DOCKER_CONFIG: `${work}/docker` },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(tar.stdout);
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

async function get(registry: TestRegistry, path: string, accept = "*/*"): Promise<Response> {
  const response = await fetch(`${registry.registry.url}/v2/${path}`, {
    headers: { authorization: `Basic ${btoa(`${ROBOT.username}:${ROBOT.password}`)}`, accept },
  });
  assert.equal(response.status, 200, `GET ${path}`);
  return response;
}

/** The names and contents (of small files) in a layer blob. */
async function layerFiles(
  registry: TestRegistry,
  repository: string,
  digest: string,
  work: string,
) {
  const blob = `${work}/${digest.replace(":", "-")}.tar.gz`;
  await Deno.writeFile(
    blob,
    new Uint8Array(await (await get(registry, `${repository}/blobs/${digest}`)).arrayBuffer()),
  );
  const list = await new Deno.Command("tar", { args: ["-tzvf", blob], stdout: "piped" }).output();
  return { blob, listing: new TextDecoder().decode(list.stdout) };
}

const INSECURE = ["--insecure", "--insecure-pull"];

const DOCKERFILE =
  `# The action of the issue: RUN creates a file, ENTRYPOINT prints it with its arguments.
ARG BASE=busybox
FROM \${BASE}
ARG WHO=nobody
ENV GREETING_FILE=/opt/greeting \\
    MODE="exec form"
WORKDIR /opt
COPY message.txt ./
RUN echo "hello from RUN, $WHO" > $GREETING_FILE \\
 && cat message.txt >> $GREETING_FILE \\
 && rm /bin/vi
USER 1000
ENTRYPOINT ["sh", "-c", "cat $GREETING_FILE; echo \\"$@\\"", "--"]
CMD ["one", "two"]
LABEL org.example.built-by=kaniko
`;

Deno.test("a Dockerfile is built and pushed: config, the RUN's file and a whiteout in layers", async () => {
  await withRegistry(async (registry, work) => {
    const destination = `${registry.host}/actions/hello:abc123`;
    const result = await build(work, registry, {
      Dockerfile: DOCKERFILE,
      "message.txt": "from the context\n",
    }, [...INSECURE, `--destination=${destination}`, "--build-arg=WHO=the build arg"]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const lines = result.stdout.split("\n").map((l) => l.replace(/^INFO\[\d{4}\] /, "INFO "));
    for (
      const expected of [
        "INFO Retrieving image manifest busybox",
        "INFO To simulate EOF and exit, press 'Ctrl+D'",
        "INFO COPY message.txt ./",
        `INFO Pushing image to ${destination}`,
      ]
    ) assert.ok(lines.includes(expected), `${expected} in:\n${result.stdout}`);
    assert.match(result.stdout, /INFO\[\d{4}\] RUN echo "hello from RUN, \$WHO"/);
    const pushed = result.stdout.match(/INFO\[\d{4}\] Pushed (\S+)@(sha256:[0-9a-f]{64})/);
    assert.ok(pushed, result.stdout);
    assert.equal(pushed[1], `${registry.host}/actions/hello`);

    const manifestResponse = await get(
      registry,
      "actions/hello/manifests/abc123",
      "application/vnd.oci.image.manifest.v1+json",
    );
    const manifestBytes = new Uint8Array(await manifestResponse.arrayBuffer());
    const digest = await crypto.subtle.digest("SHA-256", manifestBytes);
    assert.equal(
      pushed[2],
      `sha256:${
        Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("")
      }`,
    );
    const manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
    const image = await (await get(registry, `actions/hello/blobs/${manifest.config.digest}`))
      .json();
    assert.deepEqual(image.config.Entrypoint, ["sh", "-c", 'cat $GREETING_FILE; echo "$@"', "--"]);
    assert.deepEqual(image.config.Cmd, ["one", "two"]);
    assert.equal(image.config.User, "1000");
    assert.equal(image.config.WorkingDir, "/opt");
    assert.deepEqual(image.config.Labels, { "org.example.built-by": "kaniko" });
    assert.ok(image.config.Env.includes("GREETING_FILE=/opt/greeting"));
    assert.ok(image.config.Env.includes("MODE=exec form"));
    // busybox's own layer, then COPY and RUN (busybox has /opt: WORKDIR adds no layer).
    assert.equal(manifest.layers.length, 3);
    assert.equal(image.rootfs.diff_ids.length, 3);
    const base = await (await get(
      registry,
      "library/busybox/manifests/latest",
      "application/vnd.oci.image.manifest.v1+json",
    )).json();
    assert.equal(manifest.layers[0].digest, base.layers[0].digest);

    const run = await layerFiles(registry, "actions/hello", manifest.layers[2].digest, work);
    assert.match(run.listing, / opt\/greeting\n/);
    assert.match(run.listing, / bin\/\.wh\.vi\n/);
    const greeting = await new Deno.Command("tar", {
      args: ["-xzOf", run.blob, "opt/greeting"],
      stdout: "piped",
    })
      .output();
    assert.equal(
      new TextDecoder().decode(greeting.stdout),
      "hello from RUN, the build arg\nfrom the context\n",
    );

    // The pushed image is a base like any other: its file is there for a RUN, as user 1000.
    const second = await build(work, registry, {
      Dockerfile:
        `FROM ${registry.host}/actions/hello:abc123\nRUN cat /opt/greeting; id -u; test ! -e /bin/vi\n`,
    }, [...INSECURE, `--destination=${registry.host}/actions/second:1`]);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.match(second.stdout, /\nhello from RUN, the build arg\nfrom the context\n1000\n/);
  });
});

Deno.test("build failures are worded as Kaniko words them and exit 1", async () => {
  await withRegistry(async (registry, work) => {
    const destination = [`--destination=${registry.host}/broken:1`];
    const parse = await build(work, registry, { Dockerfile: "FROM busybox\nRUN true\nFORM x\n" }, [
      ...INSECURE,
      ...destination,
    ]);
    assert.equal(parse.code, 1);
    assert.equal(
      parse.stderr,
      "error building image: parsing dockerfile: dockerfile parse error on line 3: unknown instruction: FORM\n",
    );

    const failing = await build(work, registry, {
      Dockerfile: "FROM busybox\nRUN echo before; exit 2\n",
    }, [...INSECURE, ...destination]);
    assert.equal(failing.code, 1);
    assert.match(failing.stdout, /\nbefore\n/);
    assert.equal(
      failing.stderr,
      "error building image: error building stage: failed to execute command: waiting for process to exit: exit status 2\n",
    );

    // Not on the mirror: a warning, then Docker Hub itself, which cannot be reached from here.
    const unknown = await build(work, registry, { Dockerfile: "FROM nosuchimage:1\n" }, [
      ...INSECURE,
      ...destination,
    ]);
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.stdout,
      /\nWARN\[\d{4}\] Failed to retrieve image \S+\/library\/nosuchimage:1 from remapped registry \S+: unable to complete operation after 0 attempts, last error: GET http:\/\/\S+\/v2\/library\/nosuchimage\/manifests\/1: MANIFEST_UNKNOWN: manifest unknown.*\. Will try with the next registry, or fallback to the original registry\.\n/,
    );
    assert.match(
      unknown.stdout,
      /\nINFO\[\d{4}\] Retrieving image index\.docker\.io\/library\/nosuchimage:1 from registry index\.docker\.io\n/,
    );
    assert.match(
      unknown.stderr,
      /^error building image: unable to complete operation after 0 attempts, last error: Get "https?:\/\/index\.docker\.io\/v2\/": dial tcp: lookup index\.docker\.io.*: no such host\n$/,
    );
    const skipped = await build(work, registry, { Dockerfile: "FROM nosuchimage:1\n" }, [
      ...INSECURE,
      ...destination,
      "--skip-default-registry-fallback",
    ]);
    assert.equal(skipped.code, 1);
    assert.equal(
      skipped.stderr,
      "error building image: image not found on any configured mapped registries for " +
        "index.docker.io/library/nosuchimage:1\n",
    );

    const https = await build(work, registry, { Dockerfile: "FROM busybox\n" }, destination);
    assert.equal(https.code, 1);
    assert.match(
      https.stderr,
      /^error checking push permissions -- make sure you entered the correct tag name, .*: Post "https:\/\/\S+\/v2\/broken\/blobs\/uploads\/": http: server gave HTTP response to HTTPS client\n$/,
    );

    await writeDockerConfig(work, registry.host, "wrong");
    const refused = await build(work, registry, { Dockerfile: "FROM busybox\n" }, [
      ...INSECURE,
      ...destination,
    ]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^error checking push permissions -- make sure you entered the correct tag name, and that you are authenticated correctly, and try again: checking push permission for "\S+\/broken:1": POST http:\/\/\S+\/v2\/broken\/blobs\/uploads\/: UNAUTHORIZED: authentication required/,
    );

    const flag = await build(work, registry, { Dockerfile: "FROM busybox\n" }, [
      "--x",
      ...destination,
    ]);
    assert.equal(flag.code, 1);
    assert.equal(flag.stderr, "Error: unknown flag: --x\n");
  });
});

Deno.test("without --registry-mirror Docker Hub names go to index.docker.io, as in Kaniko", async () => {
  await withRegistry(async (registry, work) => {
    const result = await build(work, registry, { Dockerfile: "FROM busybox\nRUN true\n" }, [
      ...INSECURE.slice(0, 1),
      `--insecure-registry=${registry.host}`,
      `--destination=${registry.host}/nomirror:1`,
    ], false);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(
      result.stdout,
      /\nINFO\[\d{4}\] Retrieving image index\.docker\.io\/library\/busybox:latest from registry index\.docker\.io\n/,
    );
    assert.doesNotMatch(result.stdout, /mapped registry/);
    assert.match(
      result.stderr,
      /^error building image: unable to complete operation after 0 attempts, last error: Get "https:\/\/index\.docker\.io\/v2\/": dial tcp: lookup index\.docker\.io.*: no such host\n$/,
    );
  });
});

Deno.test("mirrors are tried in order: one that cannot answer is a warning", async () => {
  await withRegistry(async (registry, work) => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closed = `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
    listener.close();
    const result = await build(work, registry, { Dockerfile: "FROM busybox\nRUN true\n" }, [
      ...INSECURE,
      `--registry-mirror=${closed}`,
      `--registry-mirror=${registry.host}`,
      `--destination=${registry.host}/mirrors:1`,
    ], false);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(
      result.stdout,
      new RegExp(
        `\\nWARN\\[\\d{4}\\] Failed to retrieve image ${closed}/library/busybox:latest from ` +
          `remapped registry ${closed}: unable to complete operation after 0 attempts, last ` +
          `error: Get "http://${closed}/v2/": dial tcp ${closed}: connect: connection refused\\. ` +
          "Will try with the next registry",
      ),
    );
    assert.match(
      result.stdout,
      new RegExp(
        `\\nINFO\\[\\d{4}\\] Retrieving image ${
          registry.host.replaceAll(".", "\\.")
        }/library/busybox:latest from mapped registry `,
      ),
    );
    assert.doesNotMatch(result.stdout, /from registry index\.docker\.io/);
  });
});
