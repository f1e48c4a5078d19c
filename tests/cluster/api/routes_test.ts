import assert from "node:assert/strict";
import { resolveRoute } from "./routes.ts";

const route = (path: string) => resolveRoute(new URL(`https://h${path}`));

Deno.test("routes: namespaced objects, subresources and collections", () => {
  assert.deepEqual(route("/api/v1/namespaces/ci/pods/job/exec?command=ls"), {
    kind: "resource",
    group: "",
    resource: "pods",
    namespace: "ci",
    name: "job",
    subresource: "exec",
    watch: false,
  });
  assert.deepEqual(route("/api/v1/namespaces/ci/pods?watch=1"), {
    kind: "resource",
    group: "",
    resource: "pods",
    namespace: "ci",
    watch: true,
  });
  assert.deepEqual(route("/api/v1/pods"), {
    kind: "resource",
    group: "",
    resource: "pods",
    watch: false,
  });
});

Deno.test("routes: namespaces themselves are cluster-scoped", () => {
  assert.deepEqual(route("/api/v1/namespaces/ci"), {
    kind: "resource",
    group: "",
    resource: "namespaces",
    name: "ci",
    watch: false,
  });
  assert.deepEqual(route("/api/v1/namespaces"), {
    kind: "resource",
    group: "",
    resource: "namespaces",
    watch: false,
  });
});

Deno.test("routes: legacy watch prefix, groups and non-resource paths", () => {
  assert.equal((route("/api/v1/watch/namespaces/ci/events") as { watch: boolean }).watch, true);
  assert.deepEqual(route("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"), {
    kind: "resource",
    group: "authorization.k8s.io",
    resource: "selfsubjectaccessreviews",
    watch: false,
  });
  assert.deepEqual(route("/api/v1"), { kind: "nonresource", path: "/api/v1" });
  assert.deepEqual(route("/openapi/v3/api/v1"), {
    kind: "nonresource",
    path: "/openapi/v3/api/v1",
  });
});
