import assert from "node:assert/strict";
import { podDecodingProblem } from "./pod_schema.ts";

/** Specs and what Kubernetes v1.34.4's API server answered when sent each (kubectl create
 * --validate=false). */
const CASES: [object, string][] = [
  [
    { tolerations: { key: "a" } },
    "json: cannot unmarshal object into Go struct field PodSpec.spec.tolerations of type []v1.Toleration",
  ],
  [
    { containers: [{ name: "c", image: "busybox", ports: [{ containerPort: "eighty" }] }] },
    "json: cannot unmarshal string into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32",
  ],
  [
    { containers: [{ name: "c", image: "busybox", command: [1] }] },
    "json: cannot unmarshal number into Go struct field Container.spec.containers.command of type string",
  ],
  [
    { nodeSelector: { a: 1 } },
    "json: cannot unmarshal number into Go struct field PodSpec.spec.nodeSelector of type string",
  ],
  [
    { containers: [{ name: "c", image: "busybox", resources: { limits: { cpu: true } } }] },
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
  ],
  [
    { containers: [{ name: "c", image: "busybox", securityContext: "x" }] },
    "json: cannot unmarshal string into Go struct field Container.spec.containers.securityContext of type v1.SecurityContext",
  ],
  [
    { containers: [{ name: "c", image: "busybox", livenessProbe: { tcpSocket: { port: true } } }] },
    "json: cannot unmarshal bool into Go struct field TCPSocketAction.spec.containers.livenessProbe.tcpSocket.port of type int32",
  ],
];

Deno.test("a pod of the wrong field types is refused in the real API server's words", () => {
  for (const [spec, message] of CASES) {
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "x" }, spec };
    assert.equal(
      podDecodingProblem(pod),
      `Pod in version "v1" cannot be handled as a Pod: ${message}`,
    );
  }
});

Deno.test("what the real API server decodes passes: quantities as numbers, named ports, unknown fields", () => {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "x", labels: { a: "b" } },
    spec: {
      someFutureField: { x: 1 },
      containers: [{
        name: "c",
        image: "busybox",
        resources: { limits: { cpu: 1, memory: "64Mi" } },
        readinessProbe: { httpGet: { port: "http" } },
        env: [{ name: "A", value: "1" }],
      }],
    },
  };
  assert.equal(podDecodingProblem(pod), undefined);
});
