import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { explainPodSecurityRefusal, restrictContainer, restrictPod } from "./pod_security.ts";

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

Deno.test("a Pod Security refusal is each failed control and the fix", () => {
  // As Kubernetes v1.34.4 refused a plain busybox pod in a namespace enforcing restricted.
  const message = 'pods "x" is forbidden: violates PodSecurity "restricted:latest": ' +
    'allowPrivilegeEscalation != false (container "x" must set ' +
    "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container " +
    '"x" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or ' +
    'container "x" must set securityContext.runAsNonRoot=true), seccompProfile (pod or ' +
    'container "x" must set securityContext.seccompProfile.type to "RuntimeDefault" or ' +
    '"Localhost")';
  const explained = explainPodSecurityRefusal(message)!;
  assert.match(
    explained,
    /^The namespace enforces the Pod Security standard "restricted", and the pod fails 4 controls:\n/,
  );
  assert.match(
    explained,
    /\n {2}- unrestricted capabilities \(container "x" must set securityContext\.capabilities\.drop=\["ALL"\]\)\n/,
  );
  assert.match(
    explained,
    /\n {2}- seccompProfile \(pod or container "x" must set .*"Localhost"\)\n/,
  );
  assert.match(explained, /Set KUBEHOOK_POD_SECURITY=restricted/);
  assert.equal(explainPodSecurityRefusal('pods "x" is forbidden: exceeded quota: q'), undefined);
});
