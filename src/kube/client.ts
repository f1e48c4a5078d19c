/**
 * The REST client every kubehook call goes through: JSON over `fetch` with one
 * `Deno.createHttpClient` (custom CA, client certificate), retries with backoff for calls that may
 * repeat, and errors that name the call, the object and the fix.
 *
 * @example
 * ```ts
 * const client = new KubeClient(await loadKubeAccess());
 * try {
 *   const pods = await client.list<V1Pod>(podsPath(client.access.namespace), {
 *     labelSelector: "runner-pod=runner-1",
 *   });
 * } finally {
 *   client.close();
 * }
 * ```
 *
 * @module
 */
import type { V1DeleteOptions } from "@kubernetes/client-node";
import type { KubeAccess } from "./config.ts";
import { KubeApiError, KubeConnectionError } from "./errors.ts";
import {
  DEFAULT_RETRY,
  isRetryableError,
  isRetryableStatus,
  parseRetryAfter,
  retryDelay,
  type RetryPolicy,
  sleep,
} from "./retry.ts";
import { type WatchEvent, watchEvents } from "./watch_stream.ts";

export type { WatchEvent };

/** Query parameters; arrays repeat the key, undefined values are left out. */
export type Query = Record<string, string | number | boolean | string[] | undefined>;

export interface RequestOptions {
  query?: Query;
  /** Sent as JSON. */
  body?: unknown;
  /** The body's media type; `application/json` by default (PATCH bodies name their kind). */
  contentType?: string;
  /** Whether the call may be repeated after a 500/503/504 or a broken connection; defaults to
   * true for GET, HEAD, PUT and DELETE. Every method is repeated after a 429. */
  idempotent?: boolean;
  /** false: one attempt only, for calls that only diagnose a failure another call had. */
  retry?: boolean;
  signal?: AbortSignal;
}

/** An object with the metadata {@link KubeClient.createNamed} compares. */
export interface Labelled {
  metadata?: { name?: string; labels?: Record<string, string>; deletionTimestamp?: unknown };
}

/** A list response (`PodList`, `SecretList`, ...). */
export interface KubeList<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  signal?: AbortSignal;
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: V1DeleteOptions["propagationPolicy"];
  signal?: AbortSignal;
}

const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "PUT", "DELETE"]);

/** An API server that accepts a request and never answers must not hold a hook: each attempt
 * gets this long for its answer (the server's own limit for a request is 60 s too). */
export const REQUEST_TIMEOUT_MS = 60_000;

/** Talks to one API server with one set of credentials. Call {@link close} when done. */
export class KubeClient {
  readonly access: KubeAccess;
  readonly retryPolicy: RetryPolicy;
  /** Shared by fetch and WebSocket, so TLS settings are made once. */
  readonly httpClient: Deno.HttpClient;

  /** How long one attempt may wait for its answer (see {@link REQUEST_TIMEOUT_MS}). */
  readonly requestTimeoutMs: number;

  constructor(
    access: KubeAccess,
    options: { retry?: Partial<RetryPolicy>; requestTimeoutMs?: number } = {},
  ) {
    this.access = access;
    this.retryPolicy = { ...DEFAULT_RETRY, ...options.retry };
    this.requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    this.httpClient = Deno.createHttpClient({
      caCerts: access.caPem ? [access.caPem] : undefined,
      ...(access.certPem && access.keyPem ? { cert: access.certPem, key: access.keyPem } : {}),
    });
  }

  /** The absolute URL of `path` on this server with `query` appended. */
  url(path: string, query: Query = {}): URL {
    const url = new URL(this.access.server + path);
    for (const [key, value] of Object.entries(query)) {
      for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
        url.searchParams.append(key, String(v));
      }
    }
    return url;
  }

  /** Headers that authenticate a request (none with client certificates alone). */
  authHeaders(): Record<string, string> {
    return this.access.token ? { Authorization: `Bearer ${this.access.token}` } : {};
  }

  /** Sends one call and returns its decoded JSON body (undefined when empty). Throws
   * {@link KubeApiError} for an error status and {@link KubeConnectionError} when the server
   * cannot be reached, each after the retries the call allows. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const text = await this.#wholeBody(method, path, options);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A call's whole body, read under the same deadline as its headers. */
  async #wholeBody(method: string, path: string, options: RequestOptions): Promise<string> {
    const { response, answered } = await this.#send(method, path, options);
    try {
      return await response.text();
    } catch (err) {
      throw bodyError(method, path, this.access, err, options.signal);
    } finally {
      answered();
    }
  }

  get<T>(path: string, options: { query?: Query; signal?: AbortSignal } = {}): Promise<T> {
    return this.request<T>("GET", path, options);
  }

  /** GETs a plain-text resource (pods/log) and returns its body. */
  async getText(
    path: string,
    options: { query?: Query; signal?: AbortSignal } = {},
  ): Promise<string> {
    return await this.#wholeBody("GET", path, options);
  }

  list<T>(path: string, options: ListOptions = {}): Promise<KubeList<T>> {
    const { labelSelector, fieldSelector, signal } = options;
    return this.request<KubeList<T>>("GET", path, {
      query: { labelSelector, fieldSelector },
      signal,
    });
  }

  /** GETs `path` and returns its body as it streams (a followed pods/log); the call is retried
   * only until the response starts. */
  async stream(
    path: string,
    options: { query?: Query; signal?: AbortSignal } = {},
  ): Promise<ReadableStream<Uint8Array>> {
    const { response, answered } = await this.#send("GET", path, options);
    // A stream may stay open for as long as its container runs: only its start has a deadline.
    answered();
    return response.body ?? ReadableStream.from([]);
  }

  /** Strategic-merge-patches the object at `path` (a subresource such as
   * `pods/{name}/ephemeralcontainers` included) and returns it as stored. */
  patch<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    return this.request<T>("PATCH", path, {
      body,
      contentType: "application/strategic-merge-patch+json",
      signal,
    });
  }

  /** POSTs `body` to the collection at `path` and returns the stored object. */
  create<T>(path: string, body: T, signal?: AbortSignal): Promise<T> {
    return this.request<T>("POST", path, { body, signal });
  }

  /** {@link create} for an object kubehook names and labels itself, repeated after an answer
   * that leaves open whether it was made (500, 503, 504, a connection broken after sending). A
   * repeat the server refuses because the object exists takes that object when it is the one
   * sent — every label of `body`, and not being deleted — as a repeat of a create is. */
  async createNamed<T extends Labelled>(path: string, body: T, signal?: AbortSignal): Promise<T> {
    try {
      return await this.request<T>("POST", path, { body, signal, idempotent: true });
    } catch (error) {
      const name = body.metadata?.name;
      if (!(error instanceof KubeApiError && error.status === 409) || !name) throw error;
      const existing = await this.get<T>(`${path}/${encodeURIComponent(name)}`, { signal })
        .catch(() => undefined);
      const labels = Object.entries(body.metadata?.labels ?? {});
      const ours = existing && !existing.metadata?.deletionTimestamp && labels.length > 0 &&
        labels.every(([key, value]) => existing.metadata?.labels?.[key] === value);
      if (!ours) throw error;
      return existing;
    }
  }

  /** Deletes the object at `path`; resolves undefined when it was already gone. */
  async delete<T>(path: string, options: DeleteOptions = {}): Promise<T | undefined> {
    const { gracePeriodSeconds, propagationPolicy, signal } = options;
    try {
      return await this.request<T>("DELETE", path, {
        query: { gracePeriodSeconds, propagationPolicy },
        signal,
      });
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** Watches the collection at `path` (add e.g. `resourceVersion`, `fieldSelector`,
   * `timeoutSeconds` to `query`). Ends when the server ends the watch, the connection breaks or
   * `signal` aborts; an ERROR event throws a {@link KubeApiError} (410: re-list). */
  async *watch<T>(path: string, query: Query = {}, signal?: AbortSignal): AsyncIterable<
    WatchEvent<T>
  > {
    const { response, answered } = await this.#send("GET", path, {
      query: { ...query, watch: 1 },
      signal,
    });
    answered();
    yield* watchEvents<T>(response.body!, path, signal);
  }

  /** Releases the HTTP client (its pooled connections). */
  close(): void {
    this.httpClient.close();
  }

  /** One call with its retries. Each attempt must answer within {@link requestTimeoutMs}: its
   * headers, and its body until the caller calls `answered` (a stream's body has no deadline). */
  async #send(
    method: string,
    path: string,
    options: RequestOptions,
  ): Promise<{ response: Response; answered: () => void }> {
    const idempotent = options.idempotent ?? IDEMPOTENT_METHODS.has(method);
    const init: RequestInit & { client: Deno.HttpClient } = {
      method,
      headers: {
        ...this.authHeaders(),
        Accept: "application/json",
        ...(options.body === undefined
          ? {}
          : { "Content-Type": options.contentType ?? "application/json" }),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      client: this.httpClient,
    };
    const url = this.url(path, options.query);
    const started = Date.now();
    const policy = options.retry === false
      ? { ...this.retryPolicy, attempts: 1 }
      : this.retryPolicy;
    for (let attempt = 0;; attempt++) {
      const attemptDeadline = new AbortController();
      const timer = setTimeout(
        () => attemptDeadline.abort(new RequestTimeout(this.requestTimeoutMs)),
        this.requestTimeoutMs,
      );
      const answered = () => clearTimeout(timer);
      init.signal = options.signal
        ? AbortSignal.any([options.signal, attemptDeadline.signal])
        : attemptDeadline.signal;
      let response: Response;
      try {
        response = await fetch(url, init);
      } catch (err) {
        answered();
        options.signal?.throwIfAborted();
        const delay = isRetryableError(err, idempotent)
          ? retryDelay(policy, attempt, Date.now() - started)
          : undefined;
        if (delay === undefined) {
          if (err instanceof Error && err.name === "AbortError") throw err;
          throw new KubeConnectionError(method, path, this.access, err);
        }
        await sleep(delay, options.signal);
        continue;
      }
      if (response.ok) return { response, answered };
      answered();
      const delay = isRetryableStatus(response.status, idempotent)
        ? retryDelay(
          policy,
          attempt,
          Date.now() - started,
          parseRetryAfter(response.headers.get("Retry-After")),
        )
        : undefined;
      if (delay === undefined) throw await apiError(method, path, response);
      await response.body?.cancel();
      await sleep(delay, options.signal);
    }
  }
}

/** Why reading a body failed: the caller's cancel as it is, anything else a connection error. */
function bodyError(
  method: string,
  path: string,
  access: KubeAccess,
  err: unknown,
  signal?: AbortSignal,
): Error {
  signal?.throwIfAborted();
  return new KubeConnectionError(method, path, access, err);
}

/** An attempt the server did not answer in time: a connection problem, retried like one. */
class RequestTimeout extends Error {
  constructor(ms: number) {
    super(`the API server did not answer within ${ms / 1000} s`);
    this.name = "RequestTimeout";
  }
}

async function apiError(method: string, path: string, response: Response): Promise<KubeApiError> {
  const text = await response.text();
  let body: string | object = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not a Status (a proxy's HTML page, plain text): keep the text.
  }
  return new KubeApiError(method, path, response.status, typeof body === "object" ? body : text);
}
