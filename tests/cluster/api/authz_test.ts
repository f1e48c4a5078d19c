import assert from "node:assert/strict";
import { createUsers, forbiddenMessage, isAllowed, verbOf } from "./authz.ts";

const users = createUsers();
const exec = (verb: string) => ({
  verb,
  group: "",
  resource: "pods",
  subresource: "exec",
  namespace: "default",
  name: "job",
});

Deno.test("authz: tokens are distinct and the admin may do anything", () => {
  assert.equal(new Set(Object.values(users).map((u) => u.token)).size, 4);
  assert.ok(isAllowed(users.admin, { verb: "delete", group: "", resource: "namespaces" }));
});

Deno.test("authz: runner holds the documented Role, restricted lacks pods/exec", () => {
  const pods = { group: "", resource: "pods", namespace: "default" };
  for (const verb of ["get", "list", "watch", "create", "delete"]) {
    assert.ok(isAllowed(users.runner, { ...pods, verb }), verb);
    assert.ok(isAllowed(users.restricted, { ...pods, verb }), verb);
  }
  assert.ok(!isAllowed(users.runner, { ...pods, verb: "deletecollection" }));
  assert.ok(!isAllowed(users.runner, { ...pods, verb: "patch" }));
  assert.ok(isAllowed(users.runner, exec("get")) && isAllowed(users.runner, exec("create")));
  assert.ok(!isAllowed(users.restricted, exec("get")));
  assert.ok(!isAllowed(users.restricted, exec("create")));
  assert.ok(!isAllowed(users.runner, { ...exec("get"), subresource: "attach" }));
  assert.ok(isAllowed(users.runner, { ...pods, verb: "get", subresource: "log" }));
  const events = { group: "", resource: "events", namespace: "default" };
  assert.ok(isAllowed(users.runner, { ...events, verb: "list" }));
  assert.ok(!isAllowed(users.runner, { ...events, verb: "watch" }));
  assert.ok(!isAllowed(users.runner, { ...events, verb: "get" }));
  const secrets = { group: "", resource: "secrets", namespace: "default" };
  for (const verb of ["list", "create", "delete"]) {
    assert.ok(isAllowed(users.runner, { ...secrets, verb }), verb);
  }
  assert.ok(!isAllowed(users.runner, { ...secrets, verb: "get" }), "secrets are never read back");
  assert.ok(
    !isAllowed(users.runner, {
      group: "",
      resource: "persistentvolumeclaims",
      namespace: "ci",
      verb: "create",
    }),
  );
});

Deno.test("authz: the Role is bound in default only, as examples/rbac.yaml's RoleBinding", () => {
  const create = { verb: "create", group: "", resource: "pods" };
  assert.ok(isAllowed(users.runner, { ...create, namespace: "default" }));
  assert.ok(!isAllowed(users.runner, { ...create, namespace: "kube-system" }));
  assert.ok(!isAllowed(users.runner, { ...exec("create"), namespace: "ci" }));
  assert.ok(
    isAllowed(users.runner, { ...exec("patch"), subresource: "ephemeralcontainers" }),
    "rbac.yaml grants container steps their ephemeral containers",
  );
  assert.equal(users.runner.name, "system:serviceaccount:default:kubehook-runner");
});

Deno.test("authz: namespaced rules do not reach cluster scope", () => {
  assert.ok(!isAllowed(users.runner, { verb: "list", group: "", resource: "pods" }));
  assert.ok(
    !isAllowed(users.runner, { verb: "get", group: "", resource: "namespaces", name: "default" }),
  );
});

Deno.test("authz: everyone may review their own access", () => {
  const review = {
    verb: "create",
    group: "authorization.k8s.io",
    resource: "selfsubjectaccessreviews",
  };
  assert.ok(isAllowed(users.restricted, review));
});

Deno.test("authz: denial messages read like the API server's", () => {
  assert.equal(
    forbiddenMessage(users.runner, exec("create")),
    'pods "job" is forbidden: User "system:serviceaccount:default:kubehook-runner" cannot create resource "pods/exec" in API group "" in the namespace "default"',
  );
  assert.equal(
    forbiddenMessage(users.restricted, { verb: "list", group: "", resource: "namespaces" }),
    'namespaces is forbidden: User "system:serviceaccount:default:kubehook-restricted" cannot list resource "namespaces" in API group "" at the cluster scope',
  );
});

Deno.test("authz: verbs come from the method, the name and watch", () => {
  assert.equal(verbOf("GET", false, false), "list");
  assert.equal(verbOf("GET", false, true), "watch");
  assert.equal(verbOf("GET", true, false), "get");
  assert.equal(verbOf("POST", false, false), "create");
  assert.equal(verbOf("DELETE", true, false), "delete");
  assert.equal(verbOf("DELETE", false, false), "deletecollection");
  assert.equal(verbOf("PATCH", true, false), "patch");
});

Deno.test("authz: builder holds the Role with its Dockerfile actions rules in force", () => {
  const attach = { ...exec("create"), subresource: "attach" };
  assert.ok(
    isAllowed(users.builder, attach) && isAllowed(users.builder, { ...attach, verb: "get" }),
  );
  assert.ok(!isAllowed(users.runner, attach));
  assert.ok(isAllowed(users.builder, exec("create")), "and everything the runner holds");
  const secret = (name?: string) => ({
    verb: "get",
    group: "",
    resource: "secrets",
    namespace: "default",
    ...(name ? { name } : {}),
  });
  // resourceNames: that one Secret, by name only.
  assert.ok(isAllowed(users.builder, secret("registry-push")));
  assert.ok(!isAllowed(users.builder, secret("other")));
  assert.ok(!isAllowed(users.builder, secret()));
  assert.ok(!isAllowed(users.runner, secret("registry-push")));
});
