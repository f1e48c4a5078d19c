/**
 * `deno run -A scripts/pod_schema.ts --kubeconfig FILE > src/pod/pod_schema.json && deno fmt
 * src/pod/pod_schema.json`: writes the
 * field types of a Pod as the Kubernetes release kubehook targets decodes it, read from a cluster's
 * own OpenAPI v3 document (`/openapi/v3/api/v1`; the real tier's, `deno task cluster --real`), in
 * the compact form src/pod/pod_schema.ts reads: every struct reachable from Pod (its status left
 * out), each field as a scalar (`string`, `int32`, `int64`, `float64`, `bool`, `int-or-string`,
 * `quantity`, `any`), a struct's name, `{ "list": T }` or `{ "map": T }`.
 *
 * @module
 */
import { KubeClient } from "../src/kube/client.ts";
import { loadKubeAccess } from "../src/kube/config.ts";

interface OpenApiSchema {
  type?: string;
  format?: string;
  items?: OpenApiSchema;
  additionalProperties?: OpenApiSchema | boolean;
  allOf?: OpenApiSchema[];
  $ref?: string;
  properties?: Record<string, OpenApiSchema>;
  "x-kubernetes-int-or-string"?: boolean;
}

type FieldType = string | { list: FieldType } | { map: FieldType };

const ROOT = "io.k8s.api.core.v1.Pod";
/** What a client never sends: the status the kubelet writes. */
const LEFT_OUT = new Set(["io.k8s.api.core.v1.PodStatus"]);
const SCALARS: Record<string, string> = {
  "io.k8s.apimachinery.pkg.util.intstr.IntOrString": "int-or-string",
  "io.k8s.apimachinery.pkg.api.resource.Quantity": "quantity",
  "io.k8s.apimachinery.pkg.apis.meta.v1.Time": "string",
  "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "string",
  "io.k8s.apimachinery.pkg.runtime.RawExtension": "any",
};

async function main(args: string[]): Promise<number> {
  const at = args.indexOf("--kubeconfig");
  if (at < 0 || !args[at + 1]) {
    console.error("usage: deno run -A scripts/pod_schema.ts --kubeconfig FILE > FILE.json");
    return 2;
  }
  const access = await loadKubeAccess({ KUBECONFIG: args[at + 1] });
  const client = new KubeClient(access);
  const version = await client.get<{ gitVersion: string }>("/version");
  const doc = await client.get<{ components: { schemas: Record<string, OpenApiSchema> } }>(
    "/openapi/v3/api/v1",
  );
  client.close();
  const schemas = doc.components.schemas;
  const types: Record<string, Record<string, FieldType>> = {};
  const seen = new Map<string, string>();
  const short = (ref: string) => {
    const name = ref.slice(ref.lastIndexOf(".") + 1);
    const other = seen.get(name);
    if (other && other !== ref) throw new Error(`two types named ${name}: ${other} and ${ref}`);
    seen.set(name, ref);
    return name;
  };
  const pending = [ROOT];
  const fieldType = (schema: OpenApiSchema): FieldType => {
    const ref = schema.$ref ?? schema.allOf?.find((s) => s.$ref)?.$ref;
    if (ref) {
      const name = ref.replace("#/components/schemas/", "");
      if (SCALARS[name]) return SCALARS[name];
      if (!schemas[name]?.properties) return "any";
      if (!types[short(name)] && !pending.includes(name)) pending.push(name);
      return short(name);
    }
    if (schema["x-kubernetes-int-or-string"]) return "int-or-string";
    switch (schema.type) {
      case "array":
        return { list: fieldType(schema.items ?? {}) };
      case "object":
        return typeof schema.additionalProperties === "object"
          ? { map: fieldType(schema.additionalProperties) }
          : "any";
      case "integer":
        return schema.format === "int32" ? "int32" : "int64";
      case "number":
        return "float64";
      case "boolean":
        return "bool";
      case "string":
        return "string";
      default:
        return "any";
    }
  };
  while (pending.length > 0) {
    const name = pending.shift()!;
    const fields: Record<string, FieldType> = {};
    types[short(name)] = fields;
    for (const [field, schema] of Object.entries(schemas[name].properties ?? {})) {
      const ref = schema.allOf?.find((s) => s.$ref)?.$ref?.replace("#/components/schemas/", "");
      if (ref && LEFT_OUT.has(ref)) continue;
      fields[field] = fieldType(schema);
    }
  }
  const sorted = Object.fromEntries(Object.entries(types).sort(([a], [b]) => a.localeCompare(b)));
  console.log(JSON.stringify(
    { source: `Kubernetes ${version.gitVersion} /openapi/v3/api/v1`, root: "Pod", types: sorted },
    null,
    2,
  ));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
