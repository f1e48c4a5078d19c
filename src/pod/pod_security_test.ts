import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { restrictContainer, restrictPod } from "./pod_security.ts";

Deno.test("restricted: what nobody set is filled in for every container", () => {
  const pod: V1Pod = {
    spec: {
      initContainers: [{ name: "externals", image: "runner" }],
      containers: [{ name: "job", image: "node:20" }, { name: "redis", image: "redis:7" }],
    },
  };
  restrictPod(pod, { uid: 1001, gid: 123 });
  assert.deepEqual(pod.spec!.securityContext, {
    runAsNonRoot: true,
    seccompProfile: { type: "RuntimeDefault" },
    runAsUser: 1001,
    runAsGroup: 123,
  });
  for (const c of [...pod.spec!.initContainers!, ...pod.spec!.containers]) {
    assert.deepEqual(c.securityContext, {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    }, c.name);
  }
});

Deno.test("restricted: what the template or options chose stays", () => {
  const pod: V1Pod = {
    spec: {
      securityContext: {
        runAsUser: 2000,
        seccompProfile: { type: "Localhost", localhostProfile: "p" },
      },
      containers: [{
        name: "job",
        image: "x",
        securityContext: {
          runAsUser: 3000,
          capabilities: { add: ["NET_BIND_SERVICE"], drop: ["NET_RAW"] },
        },
      }],
    },
  };
  restrictPod(pod, { uid: 1001, gid: 1001 });
  assert.deepEqual(pod.spec!.securityContext, {
    runAsUser: 2000,
    runAsNonRoot: true,
    seccompProfile: { type: "Localhost", localhostProfile: "p" },
  });
  assert.deepEqual(pod.spec!.containers[0].securityContext, {
    runAsUser: 3000,
    allowPrivilegeEscalation: false,
    capabilities: { add: ["NET_BIND_SERVICE"], drop: ["NET_RAW", "ALL"] },
  });
  assert.deepEqual(restrictContainer({ name: "step" }).securityContext, {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
  });
});
