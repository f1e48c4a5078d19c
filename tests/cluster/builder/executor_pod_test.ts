/**
 * The executor image in the embedded cluster: a pod from `ghcr.io/osscontainertools/kaniko`
 * (not privileged: containerd's default capabilities, no_new_privs) builds with
 * `/kaniko/executor`, whose RUN sandbox (a user namespace) must work inside the container. The
 * base is a scratch image holding the host's static busybox, so no registry is needed
 * (`--no-push`); pushing is covered by executor_test.ts, and a build in a pod that pulls through
 * the cluster's registry and pushes to it by registry/registry_test.ts.
 */
import assert from "node:assert/strict";
import { runPod, testPod, text, withKubelet } from "../kubelet/testing_store.ts";

const DOCKERFILE = [
  "FROM scratch",
  "COPY usr/bin/busybox /bin/sh",
  "COPY usr/bin/busybox /bin/busybox",
  "RUN echo built in the sandbox as $(busybox id -u) > /f && busybox cat /f",
].join("\\n");

Deno.test("the Kaniko image builds in a pod: RUN works in the container's sandbox", async () => {
  await withKubelet(async (kubelet, store) => {
    runPod(
      kubelet,
      store,
      testPod("kaniko", [{
        name: "builder",
        image: "ghcr.io/osscontainertools/kaniko:latest",
        command: ["sh", "-c"],
        env: [{ name: "PATH", value: "/usr/bin:/bin" }],
        args: [
          `printf '${DOCKERFILE}\\n' > /workspace/Dockerfile && exec /kaniko/executor ` +
          "--dockerfile=/workspace/Dockerfile --context=dir:/// --no-push",
        ],
      }]),
    );
    const status = await store.until(
      "kaniko",
      "completion",
      (s) => s.phase === "Succeeded" || s.phase === "Failed",
    );
    const log = await text(kubelet.logs("default", "kaniko", "builder", { follow: false }));
    assert.equal(status.phase, "Succeeded", log);
    assert.match(log, /\nbuilt in the sandbox as 0\n/);
    assert.match(log, /Skipping push to container registry due to --no-push flag/);
  });
});
