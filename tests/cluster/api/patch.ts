/**
 * PATCH bodies: JSON merge patch (RFC 7386), strategic merge patch (a merge patch whose keyed
 * lists — containers, env, volumes... — merge element by element; enough for `kubectl apply`,
 * `label` and `annotate` on pods), and JSON patch (RFC 6902) for add/replace/remove/test. Pods then keep their spec, as the real server
 * insists, except the fields it allows to change.
 *
 * @module
 */
import type { KubeObject } from "./store.ts";
import { failure, invalid } from "./status.ts";

type Json = unknown;

/** The key strategic merge patch merges a list field's elements by (Kubernetes' patchMergeKey). */
const MERGE_KEYS: Record<string, string> = {
  containers: "name",
  initContainers: "name",
  ephemeralContainers: "name",
  volumes: "name",
  env: "name",
  imagePullSecrets: "name",
  volumeMounts: "mountPath",
  ports: "containerPort",
};

type Entry = Record<string, Json>;

/** Strategic merge of a keyed list: patch elements merge into the element with the same key
 * (or are appended); `$patch: delete` removes one. */
function mergeList(target: Json, patch: Entry[], key: string): Json {
  const result = Array.isArray(target) ? [...target as Entry[]] : [];
  for (const element of patch) {
    const index = result.findIndex((e) => e?.[key] === element[key]);
    if (element.$patch === "delete") {
      if (index >= 0) result.splice(index, 1);
    } else if (index >= 0) result[index] = mergePatch(result[index], element, true) as Entry;
    else result.push(mergePatch({}, element, true) as Entry);
  }
  return result;
}

/** RFC 7386: objects merge recursively, null deletes, anything else replaces. With `strategic`,
 * known keyed lists (containers, env, volumes...) merge element by element, as strategic merge
 * patch does. */
export function mergePatch(target: Json, patch: Json, strategic = false): Json {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const result: Record<string, Json> = target !== null && typeof target === "object" &&
      !Array.isArray(target)
    ? { ...target as Record<string, Json> }
    : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key === "$patch" || key.startsWith("$setElementOrder")) continue;
    if (value === null) delete result[key];
    else if (strategic && MERGE_KEYS[key] && Array.isArray(value)) {
      result[key] = mergeList(result[key], value as Entry[], MERGE_KEYS[key]);
    } else result[key] = mergePatch(result[key], value, strategic);
  }
  return result;
}

function pointer(path: string): string[] {
  return path.split("/").slice(1).map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/** RFC 6902 add, replace, remove and test; `move`/`copy` are refused with a 415-like 400. */
export function jsonPatch(target: Json, operations: Json): Json {
  if (!Array.isArray(operations)) {
    throw failure(400, "BadRequest", "a JSON patch must be an array of operations");
  }
  const doc = structuredClone(target) as Record<string, Json>;
  for (const op of operations as { op: string; path: string; value?: Json }[]) {
    const parts = pointer(op.path ?? "");
    const last = parts.pop();
    let parent: Json = doc;
    for (const p of parts) parent = (parent as Record<string, Json>)?.[p];
    if (parent === null || typeof parent !== "object" || last === undefined) {
      throw failure(422, "Invalid", `the JSON patch path "${op.path}" does not exist`);
    }
    const list = Array.isArray(parent) ? parent as Json[] : undefined;
    const map = parent as Record<string, Json>;
    const index = last === "-" ? (list?.length ?? 0) : Number(last);
    switch (op.op) {
      case "add":
        if (list) list.splice(index, 0, op.value);
        else map[last] = op.value;
        break;
      case "replace":
        if (list) list[index] = op.value;
        else map[last] = op.value;
        break;
      case "remove":
        if (list) list.splice(index, 1);
        else delete map[last];
        break;
      case "test":
        if (JSON.stringify(list ? list[index] : map[last]) !== JSON.stringify(op.value)) {
          throw failure(422, "Invalid", `the JSON patch test at "${op.path}" failed`);
        }
        break;
      default:
        throw failure(400, "BadRequest", `the JSON patch operation "${op.op}" is not supported`);
    }
  }
  return doc;
}

/** Applies a PATCH body of the given content type to a stored object. */
export function applyPatch(object: KubeObject, contentType: string, body: Json): KubeObject {
  const type = contentType.split(";")[0].trim();
  let patched: KubeObject;
  if (
    type === "application/merge-patch+json" || type === "application/strategic-merge-patch+json"
  ) {
    patched = mergePatch(object, body, type.includes("strategic")) as KubeObject;
  } else if (type === "application/json-patch+json") {
    patched = jsonPatch(object, body) as KubeObject;
  } else {
    throw failure(
      415,
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: ` +
        `application/json-patch+json, application/merge-patch+json, ` +
        `application/strategic-merge-patch+json (got "${type}")`,
    );
  }
  for (const field of ["uid", "creationTimestamp", "namespace", "name"] as const) {
    patched.metadata[field] = object.metadata[field] as never;
  }
  return patched;
}

/** A pod's spec may only change in container images and activeDeadlineSeconds. */
export function checkPodUpdate(before: KubeObject, after: KubeObject): void {
  const strip = (o: KubeObject) => {
    const spec = structuredClone(o.spec ?? {}) as Record<string, Json>;
    delete spec.activeDeadlineSeconds;
    for (const list of ["containers", "initContainers"]) {
      for (const c of (spec[list] ?? []) as Record<string, Json>[]) delete c.image;
    }
    return JSON.stringify(spec);
  };
  if (strip(before) !== strip(after)) {
    throw invalid("Pod", before.metadata.name ?? "", [{
      reason: "FieldValueForbidden",
      field: "spec",
      message: "Forbidden: pod updates may not change fields other than " +
        "`spec.containers[*].image`, `spec.initContainers[*].image`, " +
        "`spec.activeDeadlineSeconds`",
    }]);
  }
}
