/** The image catalogue as pods see it: pull errors, private registry auth, image contents. */
import assert from "node:assert/strict";
import type { V1PodStatus } from "@kubernetes/client-node";
import { runPod, testPod, text, withKubelet } from "./testing_store.ts";

const waitingReason = (s: V1PodStatus) => s.containerStatuses?.[0].state?.waiting?.reason;
const finished = (s: V1PodStatus) => s.phase === "Succeeded" || s.phase === "Failed";

Deno.test("an unknown image is ErrImagePull, then ImagePullBackOff, with the pull error in events", async () => {
  await withKubelet(async (kubelet, store) => {
    runPod(kubelet, store, testPod("typo", [{ name: "c", image: "nginxx:latest" }]));
    const failed = await store.until(
      "typo",
      "ErrImagePull",
      (s) => waitingReason(s) === "ErrImagePull",
    );
    assert.equal(failed.phase, "Pending");
    await store.until("typo", "ImagePullBackOff", (s) => waitingReason(s) === "ImagePullBackOff");
    const event = store.events.find((e) =>
      e.reason === "Failed" && e.message.startsWith("Failed to pull")
    );
    assert.match(
      event!.message,
      /^Failed to pull image "nginxx:latest": .*docker\.io\/library\/nginxx:latest: not found$/,
    );
    assert.ok(
      store.events.some((e) =>
        e.reason === "BackOff" && e.message === 'Back-off pulling image "nginxx:latest"'
      ),
    );
    assert.throws(
      () => kubelet.logs("default", "typo", "c", { follow: false }),
      /container "c" in pod "typo" is waiting to start: image can't be pulled/,
    );
  });
});

Deno.test("an invalid reference is InvalidImageName", async () => {
  await withKubelet(async (kubelet, store) => {
    runPod(kubelet, store, testPod("invalid", [{ name: "c", image: "Not/Valid:" }]));
    const status = await store.until(
      "invalid",
      "InvalidImageName",
      (s) => waitingReason(s) === "InvalidImageName",
    );
    assert.match(status.containerStatuses![0].state!.waiting!.message!, /invalid reference format/);
  });
});

Deno.test("the private registry wants robot/s3cret from an imagePullSecret", async () => {
  await withKubelet(async (kubelet, store) => {
    const image = "registry.local/private/app:1.0";
    const config = (password: string) =>
      btoa(JSON.stringify({ auths: { "registry.local": { auth: btoa(`robot:${password}`) } } }));
    for (const [name, password] of [["good", "s3cret"], ["wrong", "guess"]]) {
      store.put("secrets", {
        metadata: { name },
        type: "kubernetes.io/dockerconfigjson",
        data: { ".dockerconfigjson": config(password) },
      });
    }
    runPod(kubelet, store, testPod("anonymous", [{ name: "c", image, command: ["true"] }]));
    runPod(
      kubelet,
      store,
      testPod("wrong", [{ name: "c", image, command: ["true"] }], {
        imagePullSecrets: [{ name: "wrong" }],
      }),
    );
    runPod(
      kubelet,
      store,
      testPod("authorized", [{ name: "c", image, command: ["true"] }], {
        imagePullSecrets: [{ name: "good" }],
      }),
    );
    assert.equal((await store.until("authorized", "completion", finished)).phase, "Succeeded");
    // containerd's words: without credentials it never asks; wrong ones get 401.
    const expected = {
      anonymous: "pull access denied, repository does not exist or may require authorization: " +
        "authorization failed: no basic auth credentials",
      wrong: "pulling from host registry.local failed with status code [manifests 1.0]: " +
        "401 Unauthorized",
    };
    for (const [pod, why] of Object.entries(expected)) {
      const status = await store.until(
        pod,
        "ErrImagePull",
        (s) => waitingReason(s) === "ErrImagePull",
      );
      assert.equal(
        status.containerStatuses![0].state!.waiting!.message!,
        `rpc error: code = Unknown desc = failed to pull and unpack image "${image}": failed to ` +
          `resolve reference "${image}": ${why}`,
      );
    }
  });
});

Deno.test("catalogue images: alpine, debian, ubuntu, node and the runner's externals", async () => {
  await withKubelet(async (kubelet, store) => {
    const cases: [string, string, string, RegExp][] = [
      [
        "alpine",
        "alpine:3.20",
        "cat /etc/alpine-release; . /etc/os-release; echo $ID",
        /^3\.20\.\d+\nalpine\n$/,
      ],
      [
        "debian",
        "debian:bookworm",
        ". /etc/os-release; echo $ID; tar --version | head -1; echo hi > /root/f; cat /root/f",
        /^debian\ntar \(GNU tar\).*\nhi\n$/,
      ],
      [
        "ubuntu",
        "ubuntu:24.04",
        ". /etc/os-release; echo $ID; touch /usr/bin/mine && echo wrote",
        /^ubuntu\nwrote\n$/,
      ],
      ["node", "node:20", "node -e 'console.log(1 + 1)'", /^2\n$/],
      [
        "runner",
        "ghcr.io/actions/actions-runner:latest",
        "id -u; ls /home/runner/externals/node20/bin",
        /^1001\nnode\n$/,
      ],
    ];
    for (const [name, image, script] of cases) {
      runPod(kubelet, store, testPod(name, [{ name: "c", image, command: ["sh", "-c", script] }]));
    }
    for (const [name, , , expected] of cases) {
      await store.until(name, "completion", finished);
      assert.match(
        await text(kubelet.logs("default", name, "c", { follow: false })),
        expected,
        name,
      );
    }
    // The ubuntu container wrote to its own /usr, never the host's.
    await assert.rejects(Deno.stat("/usr/bin/mine"));
  });
});
