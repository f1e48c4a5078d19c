/**
 * A Pod's field types as the Kubernetes release kubehook targets decodes them
 * (`pod_schema.json`, generated from the API server's OpenAPI document by
 * scripts/pod_schema.ts), and a walk that finds every value of the wrong JSON type — a mapping
 * where a list belongs, `"eighty"` for a port — and every field the API server does not know.
 * `kubehook render`, prepare_job and the local cluster refuse what the real API server would.
 *
 * @example
 * ```ts
 * const [problem] = schemaProblems({ tolerations: { key: "a" } }, "PodSpec");
 * problem.path;           // ["tolerations"]
 * describeType(problem.expected); // "a list of Toleration"
 * ```
 * @module
 */
import schema from "./pod_schema.json" with { type: "json" };

/** A field's type: a scalar, a struct's name, a list or a map of a type. */
export type FieldType = string | { list: FieldType } | { map: FieldType };

const SCALARS = new Set([
  "string",
  "int32",
  "int64",
  "float64",
  "bool",
  "int-or-string",
  "quantity",
  "any",
]);
const TYPES = schema.types as Record<string, Record<string, FieldType>>;

/** Where a value does not fit. */
export interface SchemaProblem {
  /** From the checked value down to the field (list indexes and map keys included). */
  path: (string | number)[];
  /** The field names alone, as Go's decoding message joins them. */
  fields: string[];
  /** `type`: the value has the wrong JSON type; `unknown`: no such field. */
  kind: "type" | "unknown";
  expected: FieldType;
  /** The JSON type the value has: string, number, boolean, object, array. */
  found: string;
  /** The struct that declares the field (Go's decoding message names it). */
  owner: string;
}

/** Every problem of `value` read as `type`, in document order. `null` fits every type (it decodes
 * to the zero value), as does anything where the type is `any`. */
export function schemaProblems(value: unknown, type: FieldType, owner = ""): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  walk(value, type, { path: [], fields: [] }, owner, problems);
  return problems;
}

interface Place {
  path: (string | number)[];
  fields: string[];
}

function walk(
  value: unknown,
  type: FieldType,
  at: Place,
  owner: string,
  problems: SchemaProblem[],
): void {
  if (value === null || value === undefined || type === "any") return;
  const found = jsonType(value);
  const wrong = () => void problems.push({ ...at, kind: "type", expected: type, found, owner });
  if (typeof type === "string" && SCALARS.has(type)) {
    if (!fits(value, type)) wrong();
    return;
  }
  if (typeof type === "object" && "list" in type) {
    if (found !== "array") return wrong();
    (value as unknown[]).forEach((item, i) =>
      walk(item, type.list, { ...at, path: [...at.path, i] }, owner, problems)
    );
    return;
  }
  if (found !== "object") return wrong();
  const entries = Object.entries(value as Record<string, unknown>);
  if (typeof type === "object") {
    for (const [key, item] of entries) {
      walk(item, type.map, { ...at, path: [...at.path, key] }, owner, problems);
    }
    return;
  }
  const declared = TYPES[type] ?? {};
  for (const [key, item] of entries) {
    const field = { path: [...at.path, key], fields: [...at.fields, key] };
    const fieldType = declared[key];
    if (fieldType === undefined) {
      problems.push({ ...field, kind: "unknown", expected: type, found, owner: type });
    } else walk(item, fieldType, field, type, problems);
  }
}

function fits(value: unknown, type: string): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "bool":
      return typeof value === "boolean";
    case "float64":
      return typeof value === "number";
    case "int32":
      return Number.isInteger(value) && Math.abs(value as number) <= 2 ** 31;
    case "int64":
      return Number.isSafeInteger(value);
    case "int-or-string":
      return typeof value === "string" || Number.isInteger(value);
    case "quantity":
      return typeof value === "string" || typeof value === "number";
    default:
      return true;
  }
}

/** The JSON type of a value, as Go's decoder names it: string, number, bool, object, array. */
export function jsonType(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  if (typeof value === "boolean") return "bool";
  return typeof value === "object" ? "object" : typeof value;
}

/** The type for people: "a string", "an integer", "a list of Toleration", ... */
export function describeType(type: FieldType): string {
  if (typeof type === "object") {
    return "list" in type
      ? `a list of ${plural(type.list)}`
      : `a mapping of names to ${plural(type.map)}`;
  }
  const scalars: Record<string, string> = {
    string: "a string",
    int32: "an integer",
    int64: "an integer",
    float64: "a number",
    bool: "true or false",
    "int-or-string": "an integer or a string",
    quantity: "a quantity such as 500m, 2Gi or 1 (a string or a number)",
    any: "any value",
  };
  return scalars[type] ?? `a ${type} (a mapping)`;
}

function plural(type: FieldType): string {
  if (typeof type === "object") return describeType(type);
  const scalars: Record<string, string> = {
    string: "strings",
    int32: "integers",
    int64: "integers",
    bool: "booleans",
    quantity: "quantities",
  };
  return scalars[type] ?? type;
}

/** Go's name of a type, as the API server's decoding message shows it. */
export function goTypeName(type: FieldType): string {
  if (typeof type === "object") {
    return "list" in type ? `[]${goTypeName(type.list)}` : `map[string]${goTypeName(type.map)}`;
  }
  const scalars: Record<string, string> = {
    // IntOrString's decoder reports what it tried last.
    "int-or-string": "int32",
    quantity: "resource.Quantity",
    any: "interface {}",
  };
  return scalars[type] ?? (SCALARS.has(type) ? type : `v1.${type}`);
}
