/**
 * Watch streams: one JSON event per line (`{"type":"ADDED|MODIFIED|DELETED|ERROR","object":…}`)
 * for the objects a watch selects, starting either with every current object as ADDED or, given
 * a `resourceVersion`, with the changes after it (an ERROR event carrying a 410 Expired Status
 * when the history no longer reaches back). An object that stops matching the selectors is
 * reported DELETED, one that starts matching ADDED, as the API server's watch cache does.
 *
 * @module
 */
import type { Resource } from "../contract.ts";
import type { FieldMatcher, LabelMatcher } from "./selectors.ts";
import { ApiError, badRequest } from "./status.ts";
import type { Change, KubeObject, ObjectStore } from "./store.ts";
import { kindOf } from "./validation.ts";

/** What one watch selects and how it ends. */
export interface WatchOptions {
  resource: Resource;
  /** Undefined watches every namespace. */
  namespace?: string;
  labels: LabelMatcher;
  fields: FieldMatcher;
  resourceVersion?: string | null;
  timeoutSeconds?: number;
  /** `allowWatchBookmarks`: send a BOOKMARK with the current resourceVersion every minute. */
  bookmarks?: boolean;
  /** `sendInitialEvents`: after the initial ADDED events, a BOOKMARK annotated
   * `k8s.io/initial-events-end` (the watch-list protocol). */
  sendInitialEvents?: boolean;
  /** Converts each object before it is sent (kubectl's `get -w` wants Tables). */
  present?: (object: KubeObject) => KubeObject;
}

type EventType = "ADDED" | "MODIFIED" | "DELETED";

/** How a change looks to a watch with selectors, or undefined when the watch does not see it. */
export function eventFor(
  change: Change,
  matches: (o: KubeObject) => boolean,
): EventType | undefined {
  const now = matches(change.object);
  if (change.type !== "MODIFIED") return now ? change.type : undefined;
  const before = change.previous ? matches(change.previous) : false;
  if (before && now) return "MODIFIED";
  if (now) return "ADDED";
  return before ? "DELETED" : undefined;
}

/** The chunked response of a watch request. */
export function watchResponse(store: ObjectStore, options: WatchOptions): Response {
  const { resource, namespace, labels, fields } = options;
  const matches = (o: KubeObject) =>
    (namespace === undefined || o.metadata.namespace === namespace) &&
    labels(o.metadata.labels) && fields(o);
  const present = options.present ?? ((o: KubeObject) => o);
  const encoder = new TextEncoder();
  const line = (type: string, object: unknown) =>
    encoder.encode(JSON.stringify({ type, object }) + "\n");

  const requested = options.resourceVersion ?? "";
  const since = requested === "" || requested === "0" ? undefined : Number(requested);
  if (since !== undefined && !Number.isInteger(since)) {
    throw badRequest(`resourceVersion: Invalid value: "${requested}": must be an integer`);
  }

  let cleanup = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      let closed = false;
      const close = () => {
        if (closed) return;
        closed = true;
        cleanup();
        controller.close();
      };
      const send = (change: Change) => {
        if (closed || change.resource !== resource) return;
        const type = eventFor(change, matches);
        if (type) controller.enqueue(line(type, present(change.object)));
      };
      const unsubscribe = store.subscribe(send);
      const timer = options.timeoutSeconds
        ? setTimeout(close, options.timeoutSeconds * 1000)
        : undefined;
      const bookmark = (annotations?: Record<string, string>) =>
        controller.enqueue(line("BOOKMARK", {
          kind: kindOf(resource),
          apiVersion: "v1",
          metadata: {
            resourceVersion: String(store.revision),
            ...(annotations ? { annotations } : {}),
          },
        }));
      const ticker = options.bookmarks ? setInterval(() => bookmark(), 60_000) : undefined;
      cleanup = () => {
        unsubscribe();
        clearTimeout(timer);
        clearInterval(ticker);
      };
      try {
        if (since === undefined) {
          for (const o of store.list(resource, namespace)) {
            if (matches(o)) controller.enqueue(line("ADDED", present(o)));
          }
          if (options.sendInitialEvents) bookmark({ "k8s.io/initial-events-end": "true" });
        } else {
          for (const change of store.changesSince(since, requested)) send(change);
        }
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        controller.enqueue(
          line("ERROR", { ...error.status, kind: undefined, apiVersion: undefined }),
        );
        close();
      }
    },
    // The HTTP server cancels the body when the client goes away.
    cancel() {
      cleanup();
    },
  });
  return new Response(body, { headers: { "content-type": "application/json" } });
}
