/** Container config as the process sees it: env from secrets, volumes, users, /etc/hosts. */
import assert from "node:assert/strict";
import type { V1PodStatus } from "@kubernetes/client-node";
import { runPod, testPod, text, withKubelet } from "./testing_store.ts";

const finished = (s: V1PodStatus) => s.phase === "Succeeded" || s.phase === "Failed";

Deno.test("env from secrets with $(VAR) expansion; a missing secret is CreateContainerConfigError", async () => {
  await withKubelet(async (kubelet, store) => {
    store.put("secrets", {
      metadata: { name: "creds" },
      data: { user: btoa("robot"), token: btoa("t0k") },
    });
    runPod(
      kubelet,
      store,
      testPod("env", [{
        name: "c",
        image: "busybox",
        command: ["sh", "-c", 'echo "$USER_NAME|$S_token|$URL|$1"', "--", "$(USER_NAME)"],
        envFrom: [{ secretRef: { name: "creds" }, prefix: "S_" }],
        env: [
          { name: "USER_NAME", valueFrom: { secretKeyRef: { name: "creds", key: "user" } } },
          { name: "URL", value: "https://$(USER_NAME)@host" },
        ],
      }]),
    );
    runPod(
      kubelet,
      store,
      testPod("nosecret", [{
        name: "c",
        image: "busybox",
        env: [{ name: "X", valueFrom: { secretKeyRef: { name: "absent", key: "k" } } }],
      }]),
    );
    await store.until("env", "completion", finished);
    assert.equal(
      await text(kubelet.logs("default", "env", "c", { follow: false })),
      "robot|t0k|https://robot@host|robot\n",
    );
    const status = await store.until(
      "nosecret",
      "CreateContainerConfigError",
      (s) => s.containerStatuses?.[0].state?.waiting?.reason === "CreateContainerConfigError",
    );
    assert.equal(status.containerStatuses![0].state!.waiting!.message, 'secret "absent" not found');
  });
});

Deno.test("volumes: emptyDir shared, secret files, PVC, subPath, readOnly, fsGroup and runAsUser", async () => {
  await withKubelet(async (kubelet, store, stateDir) => {
    store.put("secrets", { metadata: { name: "files" }, data: { "a.txt": btoa("secret A") } });
    const claimDir = `${stateDir}/claim`;
    await Deno.mkdir(claimDir);
    await Deno.writeTextFile(`${claimDir}/from-host`, "pvc");
    store.claims.set("default/work", claimDir);
    const script = [
      "id -u; id -g",
      "cat /secret/a.txt; echo",
      "cat /pvc/from-host; echo",
      "echo shared > /shared/x",
      "touch /secret/no 2>/dev/null || echo secret-ro",
      "touch /ro/no 2>/dev/null || echo mount-ro",
      "echo sub > /sub/file",
      "stat -c '%g %a' /shared",
      "touch /root/no 2>/dev/null || echo root-denied",
    ].join("; ");
    runPod(
      kubelet,
      store,
      testPod("vols", [
        {
          name: "c",
          image: "busybox",
          command: ["sh", "-c", script],
          securityContext: { runAsUser: 1000 },
          volumeMounts: [
            { name: "shared", mountPath: "/shared" },
            { name: "shared", mountPath: "/ro", readOnly: true },
            { name: "shared", mountPath: "/sub", subPath: "nested/dir" },
            { name: "secret", mountPath: "/secret" },
            { name: "pvc", mountPath: "/pvc" },
          ],
        },
        {
          name: "reader",
          image: "busybox",
          command: [
            "sh",
            "-c",
            "until [ -f /data/x ]; do sleep 0.05; done; cat /data/x /data/nested/dir/file",
          ],
          volumeMounts: [{ name: "shared", mountPath: "/data" }],
        },
      ], {
        securityContext: { runAsGroup: 3000, fsGroup: 2000 },
        volumes: [
          { name: "shared", emptyDir: {} },
          { name: "secret", secret: { secretName: "files" } },
          { name: "pvc", persistentVolumeClaim: { claimName: "work" } },
        ],
      }),
    );
    await store.until("vols", "completion", finished);
    assert.equal(
      await text(kubelet.logs("default", "vols", "c", { follow: false })),
      "1000\n3000\nsecret A\npvc\nsecret-ro\nmount-ro\n2000 2777\nroot-denied\n",
    );
    assert.equal(
      await text(kubelet.logs("default", "vols", "reader", { follow: false })),
      "shared\nsub\n",
    );
  });
});

Deno.test("/etc/hosts has localhost, the pod's name, hostAliases and registry.local", async () => {
  await withKubelet(async (kubelet, store) => {
    runPod(
      kubelet,
      store,
      testPod("hosts", [{
        name: "c",
        image: "busybox",
        command: ["sh", "-c", "cat /etc/hosts; hostname"],
      }], {
        hostAliases: [{ ip: "10.1.2.3", hostnames: ["db.local", "cache.local"] }],
      }),
    );
    const status = await store.until("hosts", "completion", finished);
    const hosts = await text(kubelet.logs("default", "hosts", "c", { follow: false }));
    assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m);
    assert.match(hosts, new RegExp(`^${status.podIP!.replaceAll(".", "\\.")}\thosts$`, "m"));
    assert.match(hosts, /^10\.1\.2\.3\tdb\.local\tcache\.local$/m);
    // The cluster's registry by name: the pod network's gateway (the stand-in for cluster DNS).
    assert.match(hosts, /^10\.244\.0\.1\tregistry\.local$/m);
    assert.match(hosts, /\nhosts\n$/);
  });
});
