import assert from "node:assert/strict";
import { resolveRoute } from "./routes.ts";
import { requestKey, RequestStats } from "./stats.ts";
import { startTestApi, testPod } from "./test_api.ts";

const key = (method: string, path: string) =>
  requestKey(method, resolveRoute(new URL(path, "https://127.0.0.1")));

Deno.test("stats: requests are keyed by the authorizer's verb and resource", () => {
  assert.equal(key("POST", "/api/v1/namespaces/d/pods"), "create pods");
  assert.equal(key("GET", "/api/v1/namespaces/d/pods?watch=true"), "watch pods");
  assert.equal(key("GET", "/api/v1/namespaces/d/pods"), "list pods");
  assert.equal(key("DELETE", "/api/v1/namespaces/d/secrets"), "deletecollection secrets");
  assert.equal(key("GET", "/api/v1/namespaces/d/pods/p/exec?command=ls"), "get pods/exec");
  assert.equal(
    key("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"),
    "create selfsubjectaccessreviews.authorization.k8s.io",
  );
  assert.equal(key("GET", "/openapi/v3"), "GET /openapi/v3");
});

Deno.test("stats: counts add up and reset to zero", () => {
  const stats = new RequestStats();
  stats.countRequest("get pods");
  stats.countRequest("create pods");
  stats.countRequest("get pods");
  stats.countExecSession();
  assert.deepEqual(stats.snapshot(), {
    total: 3,
    requests: { "create pods": 1, "get pods": 2 },
    execSessions: 1,
  });
  stats.reset();
  assert.deepEqual(stats.snapshot(), { total: 0, requests: {}, execSessions: 0 });
});

Deno.test("stats: GET /_cluster/stats counts REST calls and exec sessions, admin only", async () => {
  await using api = await startTestApi();
  assert.equal((await api.json("/_cluster/stats", { method: "DELETE" })).body.total, 0);
  await api.json("/api/v1/namespaces/default/pods", { method: "POST", body: testPod("alpha") });
  await api.json("/api/v1/namespaces/default/pods/alpha");
  await api.exec("/api/v1/namespaces/default/pods/alpha/exec?command=true&stdout=1");
  const refused = await api.json("/_cluster/stats", { as: "runner" });
  assert.equal(refused.status, 403);
  assert.match(refused.body.message, /only the admin context may manage stats/);

  const { status, body } = await api.json("/_cluster/stats");
  assert.equal(status, 200);
  // The runner's refused request was authenticated but is not counted: /_cluster/* never is.
  assert.deepEqual(body, {
    total: 3,
    requests: { "create pods": 1, "get pods": 1, "get pods/exec": 1 },
    execSessions: 1,
  });
  assert.equal((await api.json("/_cluster/stats", { method: "POST" })).status, 405);
});
