/**
 * Where a lenient cluster would hide kubehook's bugs, the tiers must agree with real Kubernetes:
 * the runner's Role holds only in its namespace, only an image's real tags pull, and a pod spec
 * with a field of the wrong type is refused by the API server's decoding. Runs against the tier
 * KUBEHOOK_TEST_CLUSTER names.
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
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
  },
);
