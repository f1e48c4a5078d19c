/**
 * The API server half on its own, over real HTTPS, with a stand-in kubelet that runs containers
 * as host processes: REST semantics, validation, watch, authorization and the non-exec faults.
 * exec_test.ts covers the WebSocket sessions; kubectl_test.ts the whole cluster.
 */
import assert from "node:assert/strict";
import { startTestApi, testPod } from "./api/test_api.ts";

Deno.test("api server", async (t) => {
  await using api = await startTestApi();
  const client = Deno.createHttpClient({ caCerts: [api.server.caPem] });
  try {
    await t.step("health, version and discovery; anonymous requests are 401", async () => {
      assert.equal(
        await (await fetch(`${api.server.url}/healthz`, { client })).text(),
        "ok",
      );
      assert.equal((await api.json("/version")).body.minor, "32");
      const list = await api.json("/api/v1");
      assert.ok(list.body.resources.some((r: { name: string }) => r.name === "pods/exec"));
      const anonymous = await fetch(`${api.server.url}/api/v1/namespaces/default/pods`, { client });
      assert.equal(anonymous.status, 401);
      assert.equal((await anonymous.json()).reason, "Unauthorized");
    });

    await t.step("create fills defaults; get, list by label, 409 and 404 Status", async () => {
      const created = await api.json("/api/v1/namespaces/default/pods", {
        method: "POST",
        body: testPod("alpha"),
      });
      assert.equal(created.status, 201);
      const p = created.body;
      assert.ok(p.metadata.uid && p.metadata.resourceVersion && p.metadata.creationTimestamp);
      assert.equal(p.spec.restartPolicy, "Always");
      assert.equal(p.spec.terminationGracePeriodSeconds, 30);
      assert.equal(p.spec.dnsPolicy, "ClusterFirst");
      assert.equal(p.spec.containers[0].imagePullPolicy, "Always");
      const again = await api.json("/api/v1/namespaces/default/pods", {
        method: "POST",
        body: testPod("alpha"),
      });
      assert.equal(again.status, 409);
      assert.equal(again.body.reason, "AlreadyExists");
      assert.equal(again.body.message, 'pods "alpha" already exists');
      const generated = await api.json("/api/v1/namespaces/default/pods", {
        method: "POST",
        body: { ...testPod(""), metadata: { generateName: "gen-" } },
      });
      assert.match(generated.body.metadata.name, /^gen-[a-z0-9]{5}$/);
      const list = await api.json("/api/v1/namespaces/default/pods?labelSelector=pod%3Dalpha");
      assert.equal(list.body.kind, "PodList");
      assert.deepEqual(
        list.body.items.map((i: { metadata: { name: string } }) => i.metadata.name),
        ["alpha"],
      );
      const missing = await api.json("/api/v1/namespaces/default/pods/nope");
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.body, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: 'pods "nope" not found',
        reason: "NotFound",
        details: { name: "nope", kind: "pods" },
        code: 404,
      });
    });

    await t.step("validation answers 422 naming each field", async () => {
      const bad = await api.json("/api/v1/namespaces/default/pods", {
        method: "POST",
        body: {
          metadata: { name: "Bad_Name" },
          spec: {
            containers: [
              { name: "a", image: "busybox", env: [{ name: "1X", value: "" }] },
              { name: "a", image: "" },
            ],
          },
        },
      });
      assert.equal(bad.status, 422);
      assert.equal(bad.body.reason, "Invalid");
      const fields = bad.body.details.causes.map((c: { field: string }) => c.field);
      assert.deepEqual(fields, [
        "metadata.name",
        "spec.containers[0].env[0].name",
        "spec.containers[1].image",
        "spec.containers[1].name",
      ]);
      assert.match(bad.body.message, /^Pod "Bad_Name" is invalid: \[metadata.name: Invalid value/);
    });

    await t.step("watch resumes from a resourceVersion and says 410 when too old", async () => {
      const start =
        (await api.json("/api/v1/namespaces/default/pods")).body.metadata.resourceVersion;
      await api.call("/api/v1/namespaces/default/pods/alpha", {
        method: "PATCH",
        headers: { "content-type": "application/merge-patch+json" },
        body: { metadata: { labels: { patched: "yes" } } },
      }).then((r) => r.body?.cancel());
      const watch = await api.call(
        `/api/v1/namespaces/default/pods?watch=1&resourceVersion=${start}&fieldSelector=metadata.name%3Dalpha`,
      );
      const reader = watch.body!.pipeThrough(new TextDecoderStream()).getReader();
      const { value } = await reader.read();
      const event = JSON.parse(value!.split("\n")[0]);
      assert.equal(event.type, "MODIFIED");
      assert.equal(event.object.metadata.labels.patched, "yes");
      await reader.cancel();
      for (let i = 0; i < 60; i++) {
        await api.call("/api/v1/namespaces/default/secrets", {
          method: "POST",
          body: { metadata: { name: `s${i}` }, stringData: { k: "v" } },
        }).then((r) => r.body?.cancel());
      }
      const old = await api.call(
        `/api/v1/namespaces/default/pods?watch=true&resourceVersion=${start}`,
      );
      const lines = (await old.text()).trim().split("\n").map((l) => JSON.parse(l));
      assert.equal(lines.length, 1);
      assert.equal(lines[0].type, "ERROR");
      assert.equal(lines[0].object.code, 410);
      assert.equal(lines[0].object.reason, "Expired");
    });

    await t.step("authorization: runner and restricted get real 403 Status messages", async () => {
      const denied = await api.json("/api/v1/namespaces", { as: "runner" });
      assert.equal(denied.status, 403);
      assert.equal(
        denied.body.message,
        'namespaces is forbidden: User "system:serviceaccount:default:kubehook-runner" cannot list ' +
          'resource "namespaces" in API group "" at the cluster scope',
      );
      const allowed = await api.json("/api/v1/namespaces/default/pods", { as: "restricted" });
      assert.equal(allowed.status, 200);
      const faults = await api.json("/_cluster/faults", { as: "runner" });
      assert.equal(faults.status, 403);
      const review = await api.json("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
        as: "restricted",
        method: "POST",
        body: {
          spec: {
            resourceAttributes: {
              namespace: "default",
              verb: "create",
              resource: "pods",
              subresource: "exec",
            },
          },
        },
      });
      assert.equal(review.status, 201);
      assert.equal(review.body.status.allowed, false);
    });

    await t.step("api-error faults answer 429 with Retry-After, then clear", async () => {
      await api.json("/_cluster/faults", {
        method: "POST",
        body: [{ kind: "api-error", status: 429, count: 1, method: "GET", path: "/pods$" }],
      });
      const limited = await api.json("/api/v1/namespaces/default/pods");
      assert.equal(limited.status, 429);
      assert.equal(limited.headers.get("retry-after"), "1");
      assert.equal(limited.body.reason, "TooManyRequests");
      assert.equal((await api.json("/api/v1/namespaces/default/pods")).status, 200);
    });

    await t.step("unschedulable pods stay Pending with a FailedScheduling event", async () => {
      await api.json("/_cluster/faults", { method: "POST", body: { kind: "unschedulable" } });
      await api.json("/api/v1/namespaces/default/pods", { method: "POST", body: testPod("stuck") });
      const stuck = (await api.json("/api/v1/namespaces/default/pods/stuck")).body;
      assert.equal(stuck.status.phase, "Pending");
      assert.deepEqual(
        stuck.status.conditions.map((
          c: { type: string; status: string; reason: string },
        ) => [c.type, c.status, c.reason]),
        [["PodScheduled", "False", "Unschedulable"]],
      );
      const events = await api.json(
        "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dstuck",
      );
      assert.deepEqual(events.body.items.map((e: { reason: string }) => e.reason), [
        "FailedScheduling",
      ]);
    });

    await t.step("evict faults mark the pod Failed with reason Evicted", async () => {
      await api.json("/api/v1/namespaces/default/pods", {
        method: "POST",
        body: testPod("victim"),
      });
      const added = await api.json("/_cluster/faults", {
        method: "POST",
        body: { kind: "evict", pod: "victim" },
      });
      assert.equal(added.status, 201);
      const victim = (await api.json("/api/v1/namespaces/default/pods/victim")).body;
      assert.equal(victim.status.phase, "Failed");
      assert.equal(victim.status.reason, "Evicted");
      const bad = await api.json("/_cluster/faults", { method: "POST", body: { kind: "bogus" } });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /unknown fault kind "bogus"/);
    });

    await t.step("claims are bound at once to a host directory, removed on delete", async () => {
      const claim = await api.json("/api/v1/namespaces/default/persistentvolumeclaims", {
        method: "POST",
        body: {
          metadata: { name: "work" },
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
        },
      });
      assert.equal(claim.status, 201);
      assert.equal(claim.body.status.phase, "Pending");
      await api.server.control.settle();
      const bound = (await api.json("/api/v1/namespaces/default/persistentvolumeclaims/work")).body;
      assert.equal(bound.status.phase, "Bound");
      assert.deepEqual(bound.status.capacity, { storage: "1Gi" });
      const dir = api.server.control.kubeletView().claimHostPath("default", "work")!;
      assert.ok((await Deno.stat(dir)).isDirectory);
      await api.json("/api/v1/namespaces/default/persistentvolumeclaims/work", {
        method: "DELETE",
      });
      assert.equal(await Deno.stat(dir).catch(() => null), null);
      const invalid = await api.json("/api/v1/namespaces/default/persistentvolumeclaims", {
        method: "POST",
        body: { metadata: { name: "empty" }, spec: {} },
      });
      assert.deepEqual(
        invalid.body.details.causes.map((c: { field: string }) => c.field),
        ["spec.accessModes", "spec.resources[storage]"],
      );
    });

    await t.step("namespaces: objects need one; deleting it takes its pods along", async () => {
      const orphan = await api.json("/api/v1/namespaces/ci/pods", {
        method: "POST",
        body: testPod("x"),
      });
      assert.equal(orphan.status, 404);
      assert.equal(orphan.body.message, 'namespaces "ci" not found');
      await api.json("/api/v1/namespaces", { method: "POST", body: { metadata: { name: "ci" } } });
      assert.equal(
        (await api.json("/api/v1/namespaces/ci/pods", { method: "POST", body: testPod("x") }))
          .status,
        201,
      );
      const deleting = await api.json("/api/v1/namespaces/ci", { method: "DELETE" });
      assert.equal(deleting.body.status.phase, "Terminating");
      await api.server.control.settle();
      assert.equal((await api.json("/api/v1/namespaces/ci")).status, 404);
      assert.equal(api.server.control.store.list("pods", "ci").length, 0);
    });

    await t.step("deleting an owner pod collects its dependents", async () => {
      const owner = (await api.json("/api/v1/namespaces/default/pods/alpha")).body;
      await api.json("/api/v1/namespaces/default/secrets", {
        method: "POST",
        body: {
          metadata: {
            name: "owned",
            ownerReferences: [{
              apiVersion: "v1",
              kind: "Pod",
              name: "alpha",
              uid: owner.metadata.uid,
            }],
          },
          type: "kubernetes.io/dockerconfigjson",
          data: { ".dockerconfigjson": btoa('{"auths":{}}') },
        },
      });
      const deleted = await api.json("/api/v1/namespaces/default/pods/alpha?gracePeriodSeconds=0", {
        method: "DELETE",
      });
      assert.equal(deleted.status, 200);
      assert.ok(deleted.body.metadata.deletionTimestamp);
      assert.equal((await api.json("/api/v1/namespaces/default/pods/alpha")).status, 404);
      await api.server.control.settle();
      assert.equal((await api.json("/api/v1/namespaces/default/secrets/owned")).status, 404);
    });
  } finally {
    client.close();
  }
});
