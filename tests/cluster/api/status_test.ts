import assert from "node:assert/strict";
import {
  alreadyExists,
  expired,
  forbidden,
  invalid,
  notFound,
  runtimeFailure,
  serverError,
  statusResponse,
} from "./status.ts";

Deno.test("status: NotFound and AlreadyExists carry name and kind", () => {
  assert.deepEqual(notFound("pods", "web").status, {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: 'pods "web" not found',
    reason: "NotFound",
    details: { name: "web", kind: "pods" },
    code: 404,
  });
  assert.equal(alreadyExists("secrets", "s").status.code, 409);
  assert.equal(alreadyExists("secrets", "s").status.message, 'secrets "s" already exists');
});

Deno.test("status: Invalid lists one cause inline and several in brackets", () => {
  const one = invalid("Pod", "p", [{
    reason: "FieldValueRequired",
    message: "Required value",
    field: "spec.containers",
  }]);
  assert.equal(one.status.message, 'Pod "p" is invalid: spec.containers: Required value');
  assert.equal(one.status.code, 422);
  const two = invalid("Pod", "p", [
    { reason: "FieldValueRequired", message: "Required value", field: "a" },
    { reason: "FieldValueDuplicate", message: 'Duplicate value: "x"', field: "b" },
  ]);
  assert.equal(
    two.status.message,
    'Pod "p" is invalid: [a: Required value, b: Duplicate value: "x"]',
  );
  assert.equal(two.status.details?.causes?.length, 2);
});

Deno.test("status: server errors map to their reasons; 429 says when to retry", async () => {
  const limited = serverError(429, "slow down");
  assert.equal(limited.status.reason, "TooManyRequests");
  const response = statusResponse(limited.status);
  assert.equal(response.status, 429);
  assert.equal(response.headers.get("retry-after"), "1");
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.equal((await response.json()).details.retryAfterSeconds, 1);
  assert.equal(serverError(503, "x").status.reason, "ServiceUnavailable");
  assert.equal(serverError(500, "boom").status.message, "Internal error occurred: boom");
  assert.equal(runtimeFailure(400, "waiting").status.reason, "BadRequest");
  assert.equal(expired("5", 9).status.message, "too old resource version: 5 (9)");
  assert.equal(forbidden("no", "pods", "x").status.details?.name, "x");
});
