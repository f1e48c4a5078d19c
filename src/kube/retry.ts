/**
 * When an API call is worth another attempt, and how long to wait first: exponential backoff with
 * jitter, the server's `Retry-After` when it gives one, within a bounded number of attempts and
 * total time. Pure functions, so the policy is tested without a server.
 *
 * @module
 */

/** Limits of one call's retries. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Backoff before the second attempt; doubles each time, up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** No retry is started once waiting would pass this much time since the first attempt. */
  budgetMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 5,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  budgetMs: 30_000,
};

/** 429 means the server did not process the request, so any method may repeat it; 500, 503 and
 * 504 may come after the work was done, so only idempotent calls repeat on them. */
export function isRetryableStatus(status: number, idempotent: boolean): boolean {
  return status === 429 || (idempotent && (status === 500 || status === 503 || status === 504));
}

/** Connection failures: an idempotent call repeats on any of them; another call only when the
 * connection was never made (the server cannot have seen the request). A caller's abort is never
 * retried. */
export function isRetryableError(err: unknown, idempotent: boolean): boolean {
  if (!(err instanceof Error) || err.name === "AbortError") return false;
  if (idempotent) return true;
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (/client error \(Connect\)|Connection refused/i.test(e.message)) return true;
  }
  return false;
}

/** `Retry-After` as milliseconds: delay-seconds or an HTTP date; undefined when absent or
 * unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** How long to wait before the next attempt after `attempt` (0-based) failed, or undefined to give
 * up: attempts used up, or the wait would overrun the budget. Without `retryAfterMs` the wait is
 * half the backoff plus a random part of the other half, so clients that failed together do not
 * come back together. */
export function retryDelay(
  policy: RetryPolicy,
  attempt: number,
  elapsedMs: number,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number | undefined {
  if (attempt + 1 >= policy.attempts) return undefined;
  const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  const delay = retryAfterMs ?? backoff / 2 + random() * backoff / 2;
  return elapsedMs + delay > policy.budgetMs ? undefined : delay;
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
