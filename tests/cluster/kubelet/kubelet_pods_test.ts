/** Pods as processes: phases, exit codes, shared localhost, init containers, restarts, deletion. */
import assert from "node:assert/strict";
import type { V1PodStatus } from "@kubernetes/client-node";
import { processesMentioning, runPod, testPod, text, withKubelet } from "./testing_store.ts";

const finished = (s: V1PodStatus) => s.phase === "Succeeded" || s.phase === "Failed";
const running = (s: V1PodStatus) =>
  s.phase === "Running" && s.conditions?.find((c) => c.type === "Ready")?.status === "True";

Deno.test("a pod runs to completion with the exit code and reasons kubelet reports", async () => {
  await withKubelet(async (kubelet, store) => {
    runPod(kubelet, store, testPod("ok", [{ name: "c", image: "busybox", command: ["true"] }]));
    runPod(
      kubelet,
      store,
      testPod("bad", [{ name: "c", image: "busybox", command: ["sh", "-c", "exit 3"] }]),
    );
    const ok = await store.until("ok", "completion", finished);
    assert.equal(ok.phase, "Succeeded");
    assert.equal(ok.containerStatuses?.[0].state?.terminated?.reason, "Completed");
    const bad = await store.until("bad", "completion", finished);
    assert.equal(bad.phase, "Failed");
    assert.deepEqual(
      [
        bad.containerStatuses?.[0].state?.terminated?.exitCode,
        bad.containerStatuses?.[0].state?.terminated?.reason,
      ],
      [3, "Error"],
    );
    assert.deepEqual(
      store.events.filter((e) => e.pod === "ok").map((e) => e.reason),
      ["Pulling", "Pulled", "Created", "Started"],
    );
  });
});

Deno.test("containers of a pod share localhost; two pods both listen on :80", async () => {
  await withKubelet(async (kubelet, store) => {
    for (const name of ["web1", "web2"]) {
      runPod(
        kubelet,
        store,
        testPod(name, [
          { name: "nginx", image: "nginx:1.27" },
          {
            name: "client",
            image: "busybox",
            command: ["sh", "-c", "until wget -q -O - http://localhost/ ; do sleep 0.1; done"],
          },
        ]),
      );
    }
    for (const name of ["web1", "web2"]) {
      await store.until(
        name,
        "the client's success",
        (s) =>
          s.containerStatuses?.find((c) => c.name === "client")?.state?.terminated?.exitCode === 0,
      );
      assert.match(
        await text(kubelet.logs("default", name, "client", { follow: false })),
        /Welcome to nginx!/,
      );
    }
  });
});

Deno.test("init containers run in order; a failing one fails the pod", async () => {
  await withKubelet(async (kubelet, store) => {
    const shared = [{ name: "s", mountPath: "/shared" }];
    runPod(
      kubelet,
      store,
      testPod("inits", [{
        name: "main",
        image: "busybox",
        command: ["cat", "/shared/order"],
        volumeMounts: shared,
      }], {
        initContainers: [
          {
            name: "one",
            image: "busybox",
            command: ["sh", "-c", "echo one >> /shared/order"],
            volumeMounts: shared,
          },
          {
            name: "two",
            image: "busybox",
            command: ["sh", "-c", "echo two >> /shared/order"],
            volumeMounts: shared,
          },
        ],
        volumes: [{ name: "s", emptyDir: {} }],
      }),
    );
    runPod(
      kubelet,
      store,
      testPod("broken", [{ name: "main", image: "busybox", command: ["true"] }], {
        initContainers: [{ name: "fail", image: "busybox", command: ["false"] }],
      }),
    );
    const pending = await store.until("inits", "Pending", (s) => s.phase === "Pending");
    assert.equal(pending.containerStatuses?.[0].state?.waiting?.reason, "PodInitializing");
    assert.equal((await store.until("inits", "completion", finished)).phase, "Succeeded");
    assert.equal(
      await text(kubelet.logs("default", "inits", "main", { follow: false })),
      "one\ntwo\n",
    );
    const broken = await store.until("broken", "completion", finished);
    assert.equal(broken.phase, "Failed");
    assert.equal(broken.initContainerStatuses?.[0].state?.terminated?.exitCode, 1);
    assert.equal(broken.containerStatuses?.[0].state?.waiting?.reason, "PodInitializing");
    assert.equal(broken.conditions?.find((c) => c.type === "Initialized")?.status, "False");
  });
});

Deno.test("restartPolicy Always restarts at once, then CrashLoopBackOff", async () => {
  await withKubelet(async (kubelet, store) => {
    runPod(
      kubelet,
      store,
      testPod(
        "crash",
        [{ name: "c", image: "busybox", command: ["sh", "-c", "echo run; exit 2"] }],
        {
          restartPolicy: "Always",
        },
      ),
    );
    const status = await store.until(
      "crash",
      "CrashLoopBackOff",
      (s) => s.containerStatuses?.[0].state?.waiting?.reason === "CrashLoopBackOff",
    );
    const container = status.containerStatuses![0];
    assert.equal(status.phase, "Running");
    assert.equal(container.restartCount, 1);
    assert.equal(container.lastState?.terminated?.exitCode, 2);
    assert.match(
      container.state!.waiting!.message!,
      /back-off 10s restarting failed container=c pod=crash_default/,
    );
    assert.equal(await text(kubelet.logs("default", "crash", "c", { follow: false })), "run\n");
    assert.equal(
      await text(kubelet.logs("default", "crash", "c", { follow: false, previous: true })),
      "run\n",
    );
  });
});

Deno.test("deletion: SIGTERM, SIGKILL after the grace period, Killing event, nothing left", async () => {
  await withKubelet(async (kubelet, store, stateDir) => {
    runPod(
      kubelet,
      store,
      testPod("stubborn", [
        // PID 1 without a TERM handler ignores SIGTERM, as in a real container.
        { name: "sleeper", image: "busybox", command: ["sleep", "3600"] },
        {
          name: "trapper",
          image: "busybox",
          command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"],
        },
      ]),
    );
    await store.until("stubborn", "Running", running);
    const exec = await kubelet.exec({
      namespace: "default",
      pod: "stubborn",
      container: "sleeper",
      command: ["sleep", "3600"],
      stdin: false,
      tty: false,
    });
    assert.ok(processesMentioning(stateDir).length > 0);
    await kubelet.deletePod("default", "stubborn", 1);
    await store.untilGone("stubborn");
    assert.equal(await exec.exitCode, 137);
    assert.deepEqual(
      store.events.filter((e) => e.reason === "Killing").map((e) => e.message).sort(),
      [
        "Stopping container sleeper",
        "Stopping container trapper",
      ],
    );
    assert.deepEqual(processesMentioning(stateDir), []);
    assert.deepEqual([...Deno.readDirSync(`${stateDir}/pods`)], []);
  });
});

Deno.test("eviction kills the containers and fails the pod with reason Evicted", async () => {
  await withKubelet(async (kubelet, store) => {
    runPod(
      kubelet,
      store,
      testPod("victim", [{ name: "c", image: "busybox", command: ["sleep", "3600"] }], {
        restartPolicy: "Always",
      }),
    );
    await store.until("victim", "Running", running);
    await kubelet.evictPod("default", "victim", "The node was low on resource: memory.");
    const status = await store.until("victim", "Failed", (s) => s.phase === "Failed");
    assert.equal((status as { reason?: string }).reason, "Evicted");
    assert.equal(status.containerStatuses?.[0].state?.terminated?.exitCode, 137);
  });
});
