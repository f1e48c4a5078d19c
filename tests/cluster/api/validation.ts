/**
 * The checks the real API server makes on create that clients trip over, with its wording:
 * DNS-1123 names, unique container names, environment variable names, volume references,
 * required fields, secret keys and types, requests above limits. Each problem is one `StatusCause` naming the field;
 * {@link validate} throws a 422 Invalid listing them all.
 *
 * @module
 */
import { cpuMillis, memoryBytes } from "../../../src/quantity.ts";
import type { Resource } from "../contract.ts";
import type { KubeObject } from "./store.ts";
import { invalid, type StatusCause } from "./status.ts";

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const LABEL_KEY_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const LABEL_MSG = "a lowercase RFC 1123 label must consist of lower case alphanumeric " +
  "characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  " +
  "or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_MSG = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric " +
  "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. " +
  "'example.com', regex used for validation is " +
  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const ENV_MSG = "a valid environment variable name must consist of alphabetic characters, " +
  "digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or " +
  "'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')";
const KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' " +
  "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is " +
  "'[-._a-zA-Z0-9]+')";

/** Collects causes while walking an object. */
class Problems {
  causes: StatusCause[] = [];
  required(field: string, detail = ""): void {
    this.causes.push({
      reason: "FieldValueRequired",
      message: `Required value${detail ? `: ${detail}` : ""}`,
      field,
    });
  }
  invalid(field: string, value: unknown, detail: string): void {
    this.causes.push({
      reason: "FieldValueInvalid",
      message: `Invalid value: ${JSON.stringify(value)}: ${detail}`,
      field,
    });
  }
  duplicate(field: string, value: unknown): void {
    this.causes.push({
      reason: "FieldValueDuplicate",
      message: `Duplicate value: ${JSON.stringify(value)}`,
      field,
    });
  }
  notFound(field: string, value: unknown): void {
    this.causes.push({
      reason: "FieldValueNotFound",
      message: `Not found: ${JSON.stringify(value)}`,
      field,
    });
  }
  unsupported(field: string, value: unknown, allowed: string[]): void {
    this.causes.push({
      reason: "FieldValueNotSupported",
      message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${
        allowed.map((a) => `"${a}"`).join(", ")
      }`,
      field,
    });
  }
  forbidden(field: string, detail: string): void {
    this.causes.push({ reason: "FieldValueForbidden", message: `Forbidden: ${detail}`, field });
  }
  /** A DNS-1123 label (≤ 63) or subdomain (≤ 253). */
  dnsName(field: string, value: unknown, kind: "label" | "subdomain"): void {
    if (typeof value !== "string" || value === "") return this.required(field);
    const max = kind === "label" ? 63 : 253;
    if (value.length > max) {
      this.invalid(field, value, `must be no more than ${max} characters`);
    }
    if (!(kind === "label" ? LABEL : SUBDOMAIN).test(value)) {
      this.invalid(field, value, kind === "label" ? LABEL_MSG : SUBDOMAIN_MSG);
    }
  }
}

type Json = Record<string, unknown>;
const asArray = (v: unknown): Json[] => (Array.isArray(v) ? v as Json[] : []);

function checkMetadata(p: Problems, object: KubeObject, nameKind: "label" | "subdomain"): void {
  const meta = object.metadata;
  if (meta.name) p.dnsName("metadata.name", meta.name, nameKind);
  else if (!meta.generateName) {
    p.required("metadata.name", "name or generateName is required");
  }
  for (const [key, value] of Object.entries(meta.labels ?? {})) {
    const [prefix, name] = key.includes("/") ? key.split("/", 2) : ["", key];
    if (!LABEL_KEY_NAME.test(name) || name.length > 63 || (prefix && !SUBDOMAIN.test(prefix))) {
      p.invalid(
        "metadata.labels",
        key,
        "name part must consist of alphanumeric characters, " +
          "'-', '_' or '.', and must start and end with an alphanumeric character",
      );
    }
    if (typeof value !== "string" || value.length > 63 || !LABEL_VALUE.test(value)) {
      p.invalid(
        "metadata.labels",
        value,
        "a valid label must be an empty string or consist of " +
          "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric " +
          "character (at most 63 characters)",
      );
    }
  }
}

function checkContainer(p: Problems, c: Json, path: string, volumes: Set<string>): void {
  p.dnsName(`${path}.name`, c.name, "label");
  if (typeof c.image !== "string" || c.image.trim() === "") p.required(`${path}.image`);
  asArray(c.env).forEach((e, i) => {
    if (typeof e.name !== "string" || e.name === "") p.required(`${path}.env[${i}].name`);
    else if (!ENV_NAME.test(e.name)) p.invalid(`${path}.env[${i}].name`, e.name, ENV_MSG);
  });
  asArray(c.volumeMounts).forEach((m, i) => {
    if (!m.name) p.required(`${path}.volumeMounts[${i}].name`);
    else if (!volumes.has(String(m.name))) p.notFound(`${path}.volumeMounts[${i}].name`, m.name);
    if (!m.mountPath) p.required(`${path}.volumeMounts[${i}].mountPath`);
  });
  asArray(c.ports).forEach((port, i) => {
    const n = port.containerPort;
    if (typeof n !== "number" || n < 1 || n > 65535) {
      p.invalid(`${path}.ports[${i}].containerPort`, n, "must be between 1 and 65535, inclusive");
    }
  });
  const { requests = {}, limits = {} } = (c.resources ?? {}) as Record<string, Json>;
  for (const [resource, amount] of [["cpu", cpuMillis], ["memory", memoryBytes]] as const) {
    const [request, limit] = [requests[resource], limits[resource]].map(String);
    if (requests[resource] === undefined || limits[resource] === undefined) continue;
    if ((amount(request) ?? 0) > (amount(limit) ?? Infinity)) {
      p.invalid(
        `${path}.resources.requests`,
        request,
        `must be less than or equal to ${resource} limit of ${limit}`,
      );
    }
  }
}

function checkPod(p: Problems, pod: KubeObject): void {
  checkMetadata(p, pod, "subdomain");
  const spec = pod.spec as Json | undefined;
  if (!spec || typeof spec !== "object") return p.required("spec");
  const volumes = new Set<string>();
  asArray(spec.volumes).forEach((v, i) => {
    p.dnsName(`spec.volumes[${i}].name`, v.name, "label");
    if (volumes.has(String(v.name))) p.duplicate(`spec.volumes[${i}].name`, v.name);
    volumes.add(String(v.name));
  });
  const containers = asArray(spec.containers);
  if (containers.length === 0) p.required("spec.containers");
  const names = new Set<string>();
  for (
    const [field, list] of [["initContainers", asArray(spec.initContainers)], [
      "containers",
      containers,
    ]] as const
  ) {
    list.forEach((c, i) => {
      const path = `spec.${field}[${i}]`;
      checkContainer(p, c, path, volumes);
      if (typeof c.name === "string" && names.has(c.name)) p.duplicate(`${path}.name`, c.name);
      names.add(String(c.name));
    });
  }
  if (spec.ephemeralContainers !== undefined) {
    p.forbidden("spec.ephemeralContainers", "cannot be set on create");
  }
  const policies = ["Always", "OnFailure", "Never"];
  if (spec.restartPolicy !== undefined && !policies.includes(String(spec.restartPolicy))) {
    p.unsupported("spec.restartPolicy", spec.restartPolicy, policies);
  }
  asArray(spec.imagePullSecrets).forEach((s, i) => {
    if (!s.name) p.required(`spec.imagePullSecrets[${i}].name`);
  });
}

/** The fields an ephemeral container may set (the API server's allow list); probes, ports,
 * resources and lifecycle hooks are for the pod's own workload only. */
const EPHEMERAL_FIELDS = new Set([
  "name",
  "image",
  "command",
  "args",
  "workingDir",
  "env",
  "envFrom",
  "volumeMounts",
  "volumeDevices",
  "terminationMessagePath",
  "terminationMessagePolicy",
  "imagePullPolicy",
  "securityContext",
  "stdin",
  "stdinOnce",
  "tty",
  "targetContainerName",
]);

/** Go's zero value, as the allow list judges a field: unset, empty, false or 0. */
function isZero(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === "") {
    return true;
  }
  return typeof value === "object" && Object.keys(value).length === 0;
}

/** Throws 422 Invalid when a `pods/ephemeralcontainers` update from `before` to `after` would be
 * refused: only ephemeral containers may be added, never changed or removed, each one valid. */
export function validateEphemeralUpdate(before: KubeObject, after: KubeObject): void {
  const p = new Problems();
  const spec = (after.spec ?? {}) as Json;
  const old = asArray((before.spec as Json | undefined)?.ephemeralContainers);
  const added = asArray(spec.ephemeralContainers);
  old.forEach((c) => {
    const now = added.find((n) => n.name === c.name);
    if (!now) {
      p.forbidden(
        "spec.ephemeralContainers",
        `existing ephemeral containers "${c.name}" may not be removed\n`,
      );
    } else if (JSON.stringify(now) !== JSON.stringify(c)) {
      p.forbidden(
        "spec.ephemeralContainers",
        `existing ephemeral containers "${c.name}" may not be changed\n`,
      );
    }
  });
  const volumes = new Set(asArray(spec.volumes).map((v) => String(v.name)));
  const names = new Set(
    [...asArray(spec.containers), ...asArray(spec.initContainers)].map((c) => String(c.name)),
  );
  const regular = new Set(asArray(spec.containers).map((c) => String(c.name)));
  added.forEach((c, i) => {
    const path = `spec.ephemeralContainers[${i}]`;
    checkContainer(p, c, path, volumes);
    if (names.has(String(c.name))) p.duplicate(`${path}.name`, c.name);
    names.add(String(c.name));
    for (const [field, value] of Object.entries(c)) {
      if (!EPHEMERAL_FIELDS.has(field) && !isZero(value)) {
        p.forbidden(`${path}.${field}`, "cannot be set for an Ephemeral Container");
      }
    }
    asArray(c.volumeMounts).forEach((m, j) => {
      for (const field of ["subPath", "subPathExpr"]) {
        if (m[field]) {
          p.forbidden(
            `${path}.volumeMounts[${j}].${field}`,
            "cannot be set for an Ephemeral Container",
          );
        }
      }
    });
    const target = c.targetContainerName;
    if (target !== undefined && !regular.has(String(target))) {
      p.notFound(`${path}.targetContainerName`, target);
    }
  });
  if (p.causes.length) throw invalid("Pod", after.metadata.name ?? "", p.causes);
}

function checkSecret(p: Problems, secret: KubeObject): void {
  checkMetadata(p, secret, "subdomain");
  const data = (secret.data ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(data)) {
    if (!CONFIG_KEY.test(k) || k.length > 253) p.invalid(`data[${k}]`, k, KEY_MSG);
    if (typeof v !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) {
      p.invalid(`data[${k}]`, "<value>", "must be base64-encoded");
    }
  }
  if (secret.type === "kubernetes.io/dockerconfigjson") {
    const encoded = data[".dockerconfigjson"];
    if (typeof encoded !== "string") return p.required("data[.dockerconfigjson]");
    try {
      JSON.parse(atob(encoded));
    } catch (error) {
      p.invalid("data[.dockerconfigjson]", "<secret contents redacted>", String(error));
    }
  }
}

function checkClaim(p: Problems, claim: KubeObject): void {
  checkMetadata(p, claim, "subdomain");
  const spec = (claim.spec ?? {}) as Json;
  if (asArray(spec.accessModes).length === 0) {
    p.required("spec.accessModes", "at least 1 access mode is required");
  }
  const requests = ((spec.resources as Json | undefined)?.requests ?? {}) as Json;
  if (!requests.storage) p.required("spec.resources[storage]");
}

const KINDS: Record<Resource, string> = {
  namespaces: "Namespace",
  pods: "Pod",
  secrets: "Secret",
  events: "Event",
  persistentvolumeclaims: "PersistentVolumeClaim",
};

/** Throws 422 Invalid when `object` would be refused by the real API server on create. */
export function validate(resource: Resource, object: KubeObject): void {
  const p = new Problems();
  if (resource === "pods") checkPod(p, object);
  else if (resource === "secrets") checkSecret(p, object);
  else if (resource === "persistentvolumeclaims") checkClaim(p, object);
  else if (resource === "namespaces") checkMetadata(p, object, "label");
  else checkMetadata(p, object, "subdomain");
  if (p.causes.length) {
    const name = object.metadata.name ?? object.metadata.generateName ?? "";
    throw invalid(KINDS[resource], name, p.causes);
  }
}

/** The kind of a resource (`pods` → `Pod`). */
export function kindOf(resource: Resource): string {
  return KINDS[resource];
}
