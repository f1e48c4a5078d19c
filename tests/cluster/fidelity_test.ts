/**
 * Where a lenient cluster would hide kubehook's bugs, the tiers must agree with real Kubernetes:
 * the runner's Role holds only in its namespace, only an image's real tags pull, and a pod spec
 * with a field of the wrong type is refused by the API server's decoding, so is a request above its
 * limit, capabilities and a read-only root follow the securityContext, a host port is one pod's at a time, a readiness probe holds a
 * running container unready and reports each failure as an event. Runs against the tier
 * KUBEHOOK_TEST_CLUSTER names.
 */
import assert from "node:assert/strict";
import type { CoreV1Event, V1Pod } from "@kubernetes/client-node";
import { kubectlSkipReason, startTestCluster } from "./harness.ts";

const skip = await kubectlSkipReason();

function pod(name: string, over: Record<string, unknown> = {}, container: object = {}) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: {
      restartPolicy: "Never",
      containers: [{ name: "c", image: "busybox:1.36", command: ["true"], ...container }],
      ...over,
    },
  };
}

Deno.test(
  { name: "the clusters are as strict as Kubernetes", ignore: skip !== undefined },
  async (t) => {
    await using cluster = await startTestCluster();
    const create = (body: unknown, context: "admin" | "runner" = "admin", namespace = "default") =>
      cluster.fetch(`/api/v1/namespaces/${namespace}/pods`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        context,
      });

    await t.step("the runner's Role holds in its namespace only", async () => {
      const canI = async (...args: string[]) =>
        (await cluster.kubectl(["auth", "can-i", ...args], { context: "runner" })).stdout.trim();
      assert.equal(await canI("create", "pods"), "yes");
      assert.equal(await canI("create", "pods", "-n", "kube-system"), "no");
      const denied = await create(pod("elsewhere"), "runner", "kube-system");
      assert.equal(denied.status, 403, await denied.text());
    });

    await t.step("a tag the registry lacks does not pull", async () => {
      const response = await create(pod("no-such-tag", {}, { image: "busybox:does-not-exist" }));
      assert.equal(response.status, 201, await response.text());
      let reason: string | undefined;
      for (let i = 0; i < 300 && !reason; i++) {
        const current = await (await cluster.fetch("/api/v1/namespaces/default/pods/no-such-tag"))
          .json() as V1Pod;
        reason = current.status?.containerStatuses?.[0]?.state?.waiting?.reason;
        if (reason === "ContainerCreating") reason = undefined;
        if (!reason) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.match(reason ?? "", /^(ErrImagePull|ImagePullBackOff)$/);
      await (await cluster.fetch(
        "/api/v1/namespaces/default/pods/no-such-tag?gracePeriodSeconds=0",
        {
          method: "DELETE",
        },
      )).body?.cancel();
    });

    await t.step("a field of the wrong type is refused, naming it", async () => {
      for (
        const [body, field] of [
          [
            pod("map-tolerations", { tolerations: { key: "a", operator: "Exists" } }),
            "tolerations",
          ],
          [pod("string-port", {}, { ports: [{ containerPort: "eighty" }] }), "containerPort"],
        ] as const
      ) {
        const response = await create(body);
        const text = await response.text();
        assert.equal(response.status, 400, text);
        assert.match(
          JSON.parse(text).message,
          new RegExp(`cannot unmarshal .*\\.${field} of type`),
        );
      }
      const kubectl = await cluster.kubectl(["apply", "-f", "-"], {
        stdin: JSON.stringify(pod("applied-map", { tolerations: { key: "a" } })),
      });
      assert.notEqual(kubectl.code, 0, "kubectl apply accepted tolerations given as a map");
    });

    await t.step(
      "a request above its limit is refused; a limit alone is also the request",
      async () => {
        const over = await create(pod("over-limit", {}, {
          resources: { requests: { cpu: "2" }, limits: { cpu: "1" } },
        }));
        const text = await over.text();
        assert.equal(over.status, 422, text);
        assert.match(
          JSON.parse(text).message,
          /spec\.containers\[0\]\.resources\.requests: Invalid value: "2": must be less than or equal to cpu limit of 1/,
        );
        const limited = await create(pod("limit-only", {}, {
          command: ["sleep", "600"],
          resources: { limits: { cpu: "500m", memory: "64Mi" } },
        }));
        const created = await limited.json() as V1Pod;
        assert.equal(limited.status, 201, JSON.stringify(created));
        assert.deepEqual(created.spec?.containers[0].resources?.requests, {
          cpu: "500m",
          memory: "64Mi",
        });
        await (await cluster.fetch(
          "/api/v1/namespaces/default/pods/limit-only?gracePeriodSeconds=0",
          {
            method: "DELETE",
          },
        )).body?.cancel();
      },
    );

    /** Runs a pod to its end and returns its log. */
    const logOfRun = async (
      name: string,
      container: object,
      over: Record<string, unknown> = {},
    ) => {
      const response = await create(pod(name, over, container));
      assert.equal(response.status, 201, await response.text());
      const path = `/api/v1/namespaces/default/pods/${name}`;
      let phase: string | undefined;
      for (let i = 0; i < 600 && phase !== "Succeeded" && phase !== "Failed"; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        phase = ((await (await cluster.fetch(path)).json()) as V1Pod).status?.phase;
      }
      const log = await (await cluster.fetch(`${path}/log`)).text();
      await (await cluster.fetch(`${path}?gracePeriodSeconds=0`, { method: "DELETE" })).body
        ?.cancel();
      assert.equal(phase, "Succeeded", log);
      return log;
    };

    await t.step("capabilities and a read-only root are the securityContext's", async () => {
      const caps = (securityContext: object) => ({
        command: ["sh", "-c", "grep CapEff /proc/self/status"],
        securityContext,
      });
      assert.match(await logOfRun("caps-default", caps({})), /^CapEff:\s+00000000a80425fb$/m);
      assert.match(
        await logOfRun(
          "caps-bind-only",
          caps({ capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] } }),
        ),
        /^CapEff:\s+0000000000000400$/m,
      );
      assert.match(
        await logOfRun("caps-user", caps({ runAsUser: 1000, capabilities: { drop: ["ALL"] } })),
        /^CapEff:\s+0000000000000000$/m,
      );
      const readOnly = await logOfRun("read-only-root", {
        command: [
          "sh",
          "-c",
          "touch /x 2>/dev/null && echo root writable; touch /data/x && echo volume writable",
        ],
        securityContext: { readOnlyRootFilesystem: true },
        volumeMounts: [{ name: "data", mountPath: "/data" }],
      }, { volumes: [{ name: "data", emptyDir: {} }] });
      assert.equal(readOnly, "volume writable\n");
    });

    await t.step("a host port in use keeps the next pod unscheduled until it is free", async () => {
      const withPort = (name: string) =>
        pod(name, {}, {
          command: ["sleep", "600"],
          ports: [{ containerPort: 80, hostPort: 18099 }],
        });
      const path = (name: string) => `/api/v1/namespaces/default/pods/${name}`;
      const get = async (name: string) => await (await cluster.fetch(path(name))).json() as V1Pod;
      const scheduled = (p: V1Pod) => p.status?.conditions?.find((c) => c.type === "PodScheduled");
      const until = async (name: string, test: (p: V1Pod) => boolean) => {
        let current = await get(name);
        for (let i = 0; i < 600 && !test(current); i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          current = await get(name);
        }
        return current;
      };
      assert.equal((await create(withPort("first-port"))).status, 201);
      await until("first-port", (p) => p.status?.phase === "Running");
      assert.equal((await create(withPort("second-port"))).status, 201);
      const waiting = await until("second-port", (p) => scheduled(p)?.status === "False");
      assert.equal(scheduled(waiting)?.reason, "Unschedulable", JSON.stringify(waiting.status));
      assert.match(scheduled(waiting)?.message ?? "", /didn't have free ports/);
      assert.equal(waiting.spec?.nodeName, undefined);
      await (await cluster.fetch(`${path("first-port")}?gracePeriodSeconds=0`, {
        method: "DELETE",
      })).body?.cancel();
      const placed = await until("second-port", (p) => scheduled(p)?.status === "True");
      assert.equal(scheduled(placed)?.status, "True", JSON.stringify(placed.status));
      await (await cluster.fetch(`${path("second-port")}?gracePeriodSeconds=0`, {
        method: "DELETE",
      })).body?.cancel();
    });

    await t.step(
      "a readiness probe holds the pod unready and says why, until it passes",
      async () => {
        const response = await create(pod("probed", {}, {
          command: ["sh", "-c", "sleep 4; touch /tmp/ready; sleep 600"],
          readinessProbe: {
            exec: { command: ["sh", "-c", "test -f /tmp/ready || { echo not yet >&2; exit 1; }"] },
            periodSeconds: 1,
          },
        }));
        assert.equal(response.status, 201, await response.text());
        const path = "/api/v1/namespaces/default/pods/probed";
        const seen: string[] = [];
        let current: V1Pod | undefined;
        for (let i = 0; i < 600; i++) {
          current = await (await cluster.fetch(path)).json() as V1Pod;
          const status = current.status?.containerStatuses?.[0];
          const ready = current.status?.conditions?.find((c) => c.type === "Ready")?.status;
          const state = status?.state?.running ? "running" : "other";
          const note = `${state} container ready=${status?.ready} pod Ready=${ready}`;
          if (seen.at(-1) !== note) seen.push(note);
          if (ready === "True") break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.ok(seen.includes("running container ready=false pod Ready=False"), seen.join("\n"));
        assert.equal(seen.at(-1), "running container ready=true pod Ready=True", seen.join("\n"));
        const events = await (await cluster.fetch(
          "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dprobed",
        )).json() as { items: CoreV1Event[] };
        const unhealthy = events.items.filter((e) => e.reason === "Unhealthy");
        assert.ok(unhealthy.length > 0, JSON.stringify(events.items.map((e) => e.reason)));
        for (const event of unhealthy) {
          assert.equal(event.type, "Warning");
          assert.equal(event.message, "Readiness probe failed: not yet\n");
          assert.equal(event.involvedObject.fieldPath, "spec.containers{c}");
        }
        await (await cluster.fetch(`${path}?gracePeriodSeconds=0`, { method: "DELETE" })).body
          ?.cancel();
      },
    );
  },
);
