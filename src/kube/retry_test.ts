import assert from "node:assert/strict";
import {
  DEFAULT_RETRY,
  isRetryableError,
  isRetryableStatus,
  parseRetryAfter,
  retryDelay,
} from "./retry.ts";

Deno.test("429 repeats for every call; 5xx only for idempotent ones; other 4xx never", () => {
  assert.ok(isRetryableStatus(429, false));
  for (const status of [500, 503, 504]) {
    assert.ok(isRetryableStatus(status, true));
    assert.ok(!isRetryableStatus(status, false));
  }
  for (const status of [400, 401, 403, 404, 409, 422, 501, 502]) {
    assert.ok(!isRetryableStatus(status, true), String(status));
  }
});

Deno.test("connection errors: any for idempotent calls, only refused connects otherwise", () => {
  const refused = new TypeError("fetch failed", {
    cause: new Error("client error (Connect): tcp connect error: Connection refused"),
  });
  const reset = new TypeError("fetch failed", { cause: new Error("connection reset by peer") });
  assert.ok(isRetryableError(reset, true));
  assert.ok(!isRetryableError(reset, false));
  assert.ok(isRetryableError(refused, false));
  assert.ok(!isRetryableError(new DOMException("aborted", "AbortError"), true));
});

Deno.test("Retry-After is read as seconds or as an HTTP date", () => {
  assert.equal(parseRetryAfter("3"), 3000);
  assert.equal(parseRetryAfter(null), undefined);
  assert.equal(parseRetryAfter("soon"), undefined);
  const now = Date.parse("2025-01-01T00:00:00Z");
  assert.equal(parseRetryAfter("Wed, 01 Jan 2025 00:00:02 GMT", now), 2000);
  assert.equal(parseRetryAfter("Tue, 31 Dec 2024 00:00:00 GMT", now), 0);
});

Deno.test("backoff doubles with jitter, honours Retry-After and stops at the limits", () => {
  const policy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 300, budgetMs: 1_000 };
  assert.equal(retryDelay(policy, 0, 0, undefined, () => 0), 50);
  assert.equal(retryDelay(policy, 0, 0, undefined, () => 1), 100);
  assert.equal(retryDelay(policy, 1, 0, undefined, () => 1), 200);
  assert.equal(retryDelay(policy, 2, 0, undefined, () => 1), 300); // capped at maxDelayMs
  assert.equal(retryDelay(policy, 3, 0), undefined); // the 4th attempt was the last
  assert.equal(retryDelay(policy, 0, 0, 700), 700); // the server's wish, not the backoff
  assert.equal(retryDelay(policy, 0, 500, 700), undefined); // would overrun the budget
  assert.ok(DEFAULT_RETRY.attempts >= 3);
});
