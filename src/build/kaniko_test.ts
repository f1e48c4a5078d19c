import assert from "node:assert/strict";
import { KANIKO } from "./kaniko.ts";

const request = {
  podName: "arc-x-build-1",
  labels: { "runner-pod": "arc-x" },
  image: "ghcr.io/osscontainertools/kaniko:v1.26.5",
  dockerfile: "Dockerfile",
  destination: "registry.ci:5000/ci/hello:ctx-ab",
  registrySecret: "regcred",
  insecure: true,
  extraArgs: ["--registry-mirror=mirror.ci:5000", "--cache=true"],
};

Deno.test("the builder pod: kubehook's flags, then the user's; the secret as Docker's config", () => {
  const pod = KANIKO.pod(request);
  const container = pod.spec!.containers[0];
  assert.deepEqual(container.args, [
    "--dockerfile=Dockerfile",
    "--context=tar://stdin",
    "--destination=registry.ci:5000/ci/hello:ctx-ab",
    "--insecure",
    "--insecure-registry=registry.ci:5000",
    "--registry-mirror=mirror.ci:5000",
    "--cache=true",
  ]);
  assert.equal(container.stdin, true);
  assert.equal(container.stdinOnce, true);
  assert.equal(pod.spec!.restartPolicy, "Never");
  assert.equal(pod.spec!.volumes![0].secret!.secretName, "regcred");
  assert.deepEqual(
    KANIKO.pod({ ...request, insecure: false, extraArgs: [] }).spec!.containers[0].args,
    [
      "--dockerfile=Dockerfile",
      "--context=tar://stdin",
      "--destination=registry.ci:5000/ci/hello:ctx-ab",
    ],
  );
});

Deno.test("Kaniko's account of a failure, in its default colours or without", () => {
  for (const colour of [true, false]) {
    const info = (text: string) => colour ? `\x1b[36mINFO\x1b[0m${text}` : `INFO${text}`;
    const lines = [
      info("[0000] Retrieving image manifest busybox"),
      info("[0001] RUN echo fine"),
      "fine",
      info("[0001] RUN exit 3"),
      "error building image: error building stage: failed to execute command: waiting for " +
      "process to exit: exit status 3",
    ];
    assert.equal(KANIKO.lastInstruction(lines), "RUN exit 3");
    assert.match(KANIKO.failure(lines)!, /^error building image: .*exit status 3$/);
  }
  assert.equal(KANIKO.failure(["INFO[0000] fine"]), undefined);
  assert.equal(KANIKO.lastInstruction(["something else"]), undefined);
});
