/**
 * The OpenAPI v3 documents kubectl reads: the `/openapi/v3` index and one document per group
 * version. They are small but honest: each path and operation this cluster serves, tagged with
 * `x-kubernetes-group-version-kind`, and the `fieldValidation` query parameter on create and
 * patch, which is what `kubectl apply/create` (default `--validate=strict`) looks for before it
 * sends objects for server-side field validation.
 *
 * @module
 */
import { type ApiResource, AUTHORIZATION_V1, CORE_V1, VERSION } from "./discovery.ts";

const HASH = "kubehook-local-1";

const query = (name: string) => ({ name, in: "query", schema: { type: "string" } });
const pathParam = (name: string) => ({
  name,
  in: "path",
  required: true,
  schema: { type: "string" },
});

function operation(action: string, gvk: object, parameters: object[] = []) {
  return {
    "x-kubernetes-action": action,
    "x-kubernetes-group-version-kind": gvk,
    parameters,
    responses: { "200": { description: "OK" } },
  };
}

function schemaName(group: string, kind: string): string {
  return group ? `io.k8s.api.${group.split(".")[0]}.v1.${kind}` : `io.k8s.api.core.v1.${kind}`;
}

function objectSchema(group: string, kind: string) {
  return {
    type: "object",
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { type: "object" },
      spec: { type: "object" },
      status: { type: "object" },
    },
    "x-kubernetes-group-version-kind": [{ group, kind, version: "v1" }],
  };
}

/** The document of one group version ("" for the core group). */
function groupVersionDocument(group: string, resources: ApiResource[]) {
  const prefix = group ? `/apis/${group}/v1` : "/api/v1";
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  for (const r of resources.filter((r) => !r.name.includes("/"))) {
    const gvk = { group, kind: r.kind, version: "v1" };
    const scope = r.namespaced ? `${prefix}/namespaces/{namespace}` : prefix;
    const scopeParams = r.namespaced ? [pathParam("namespace")] : [];
    const writes = [query("dryRun"), query("fieldManager"), query("fieldValidation")];
    schemas[schemaName(group, r.kind)] = objectSchema(group, r.kind);
    const collection: Record<string, unknown> = { parameters: scopeParams };
    if (r.verbs.includes("list")) {
      collection.get = operation("list", gvk, [query("labelSelector"), query("fieldSelector")]);
    }
    if (r.verbs.includes("create")) collection.post = operation("post", gvk, writes);
    if (r.verbs.includes("deletecollection")) {
      collection.delete = operation("deletecollection", gvk, [query("labelSelector")]);
    }
    paths[`${scope}/${r.name}`] = collection;
    if (r.verbs.includes("get")) {
      paths[`${scope}/${r.name}/{name}`] = {
        parameters: [...scopeParams, pathParam("name")],
        get: operation("get", gvk),
        delete: operation("delete", gvk, [query("gracePeriodSeconds")]),
        patch: operation("patch", gvk, writes),
      };
    }
  }
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: VERSION.gitVersion },
    paths,
    components: { schemas },
  };
}

/** The OpenAPI document at `path` (`/openapi/v3`, `/openapi/v3/api/v1`...), or undefined. */
export function openApiDocument(path: string): unknown {
  switch (path.replace(/\/+$/, "")) {
    case "/openapi/v3":
      return {
        paths: {
          "api/v1": { serverRelativeURL: `/openapi/v3/api/v1?hash=${HASH}` },
          "apis/authorization.k8s.io/v1": {
            serverRelativeURL: `/openapi/v3/apis/authorization.k8s.io/v1?hash=${HASH}`,
          },
        },
      };
    case "/openapi/v3/api/v1":
      return groupVersionDocument("", CORE_V1);
    case "/openapi/v3/apis/authorization.k8s.io/v1":
      return groupVersionDocument("authorization.k8s.io", AUTHORIZATION_V1);
    default:
      return undefined;
  }
}
