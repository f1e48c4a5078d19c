import assert from "node:assert/strict";
import type { KubeAccess } from "./config.ts";
import {
  describeCall,
  explainConnection,
  explainForbidden,
  explainPodSecurityRefusal,
  KubeApiError,
} from "./errors.ts";

const ACCESS: KubeAccess = {
  server: "https://api.example.test:6443",
  namespace: "ci",
  source: "kubeconfig /home/r/.kube/config (context runner)",
};

Deno.test("a Status body becomes an error naming the call, the object and the server's words", () => {
  const err = new KubeApiError("POST", "/api/v1/namespaces/ci/secrets", 409, {
    kind: "Status",
    status: "Failure",
    message: 'secrets "reg" already exists',
    reason: "AlreadyExists",
    code: 409,
  });
  assert.equal(
    err.message,
    'Could not create secrets in namespace "ci": 409 AlreadyExists: secrets "reg" already exists',
  );
  assert.deepEqual([err.status, err.reason, err.method], [409, "AlreadyExists", "POST"]);
});

Deno.test("a body that is not a Status is kept as text", () => {
  const err = new KubeApiError(
    "GET",
    "/api/v1/namespaces/ci/pods/job",
    502,
    "<html>Bad Gateway</html>\n",
  );
  assert.equal(
    err.message,
    'Could not get pod "job" in namespace "ci": 502: <html>Bad Gateway</html>',
  );
  assert.equal(err.reason, undefined);
});

Deno.test("calls are described in words", () => {
  const cases: [string, string, string][] = [
    ["GET", "/api/v1/namespaces/ci/pods", 'list pods in namespace "ci"'],
    ["DELETE", "/api/v1/namespaces/ci/pods/job", 'delete pod "job" in namespace "ci"'],
    ["GET", "/api/v1/namespaces/ci/pods/job/exec", 'exec into pod "job" in namespace "ci"'],
    ["GET", "/api/v1/namespaces/ci/pods/job/log", 'read the log of pod "job" in namespace "ci"'],
    [
      "POST",
      "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
      "create selfsubjectaccessreviews",
    ],
    ["GET", "/version", "GET /version"],
  ];
  for (const [method, path, text] of cases) assert.equal(describeCall(method, path).text, text);
});

Deno.test("a 403 names the missing permission and the Role rule; exec needs get and create", () => {
  const message = 'pods "job" is forbidden: User "system:serviceaccount:ci:runner" cannot create ' +
    'resource "pods/exec" in API group "" in the namespace "ci"';
  const err = new KubeApiError("GET", "/api/v1/namespaces/ci/pods/job/exec", 403, {
    message,
    reason: "Forbidden",
    code: 403,
  });
  const explained = explainForbidden(err, "ignored");
  assert.deepEqual(
    { ...explained, text: undefined },
    {
      user: "system:serviceaccount:ci:runner",
      verb: "create",
      resource: "pods/exec",
      apiGroup: "",
      namespace: "ci",
      rule: '- apiGroups: [""]\n  resources: ["pods/exec"]\n  verbs: ["get", "create"]',
      text: undefined,
    },
  );
  assert.match(explained!.text, /Role bound to it in namespace "ci"/);
  assert.match(explained!.text, /Kubernetes 1\.35\+ checks create/);
  // The error's own message carries the explanation, so every caller shows the fix.
  assert.ok(err.message.includes(explained!.text));
});

Deno.test("a 403 on other resources asks for just the verb that failed", () => {
  const err = new KubeApiError("POST", "/api/v1/namespaces/ci/secrets", 403, {
    message:
      'secrets is forbidden: User "alice" cannot create resource "secrets" in API group "" ' +
      'in the namespace "ci"',
  });
  const explained = explainForbidden(err, "ci")!;
  assert.equal(explained.rule, '- apiGroups: [""]\n  resources: ["secrets"]\n  verbs: ["create"]');
  assert.doesNotMatch(explained.text, /1\.35/);
});

Deno.test("a 403 of another shape, or another status, is not explained", () => {
  const odd = new KubeApiError("GET", "/api/v1/namespaces/ci/pods", 403, "forbidden by a proxy");
  assert.equal(explainForbidden(odd, "ci"), undefined);
  const missing = new KubeApiError("GET", "/api/v1/namespaces/ci/pods/x", 404, { message: "nf" });
  assert.equal(explainForbidden(missing, "ci"), undefined);
});

Deno.test("connection failures say what to check", () => {
  const fetchError = (detail: string) =>
    new TypeError("fetch failed", { cause: new Error(`error sending request: ${detail}`) });
  const cases: [string, RegExp][] = [
    ["client error (Connect): invalid peer certificate: UnknownIssuer", /certificate authority/],
    ["client error (Connect): dns error: failed to lookup address", /"api\.example\.test:6443"/],
    ["tcp connect error: Connection refused (os error 111)", /Nothing accepts connections/],
    ["connection reset by peer", /proxy, firewall/],
  ];
  for (const [detail, expected] of cases) {
    const text = explainConnection(fetchError(detail), ACCESS);
    assert.match(text, expected);
    assert.match(text, /context runner/);
  }
  assert.match(
    explainConnection(fetchError("invalid peer certificate"), {
      ...ACCESS,
      insecureSkipTlsVerify: true,
    }),
    /cannot skip it/,
  );
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
