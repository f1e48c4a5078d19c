/**
 * The field types of a Pod as the real API server decodes it: a value of the wrong JSON type (a
 * map where a list belongs, a string for a number) is refused before any validation, with Go's
 * decoding message, e.g. `Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal
 * object into Go struct field PodSpec.spec.tolerations of type []v1.Toleration`. Covers the fields
 * pod templates and the hooks set; fields it does not know are left to the validation.
 *
 * @module
 */

/** A field's type: a scalar, a list, a map of strings, or a struct (by its Go name). */
type FieldType =
  | "string"
  | "int32"
  | "int64"
  | "bool"
  | "any"
  | { list: FieldType; go: string }
  | { map: "string" | "quantity" }
  | Struct;

/** A Go struct: its name and its fields' JSON names and types. */
interface Struct {
  struct: string;
  fields: Record<string, FieldType>;
}

const strings: FieldType = { list: "string", go: "[]string" };
const labels: FieldType = { map: "string" };
const struct = (name: string, fields: Record<string, FieldType>): Struct => ({
  struct: name,
  fields,
});
const list = (item: Struct): FieldType => ({
  list: item,
  go: `[]v1.${item.struct}`,
});

const SECURITY_CONTEXT = struct("SecurityContext", {
  runAsUser: "int64",
  runAsGroup: "int64",
  runAsNonRoot: "bool",
  privileged: "bool",
  readOnlyRootFilesystem: "bool",
  allowPrivilegeEscalation: "bool",
  capabilities: struct("Capabilities", { add: strings, drop: strings }),
  seccompProfile: struct("SeccompProfile", { type: "string", localhostProfile: "string" }),
});

const CONTAINER = struct("Container", {
  name: "string",
  image: "string",
  command: strings,
  args: strings,
  workingDir: "string",
  ports: list(
    struct("ContainerPort", {
      name: "string",
      hostPort: "int32",
      containerPort: "int32",
      protocol: "string",
      hostIP: "string",
    }),
  ),
  env: list(struct("EnvVar", { name: "string", value: "string", valueFrom: "any" })),
  envFrom: { list: "any", go: "[]v1.EnvFromSource" },
  resources: struct("ResourceRequirements", {
    limits: { map: "quantity" },
    requests: { map: "quantity" },
  }),
  volumeMounts: list(struct("VolumeMount", {
    name: "string",
    readOnly: "bool",
    mountPath: "string",
    subPath: "string",
    subPathExpr: "string",
  })),
  imagePullPolicy: "string",
  securityContext: SECURITY_CONTEXT,
  stdin: "bool",
  tty: "bool",
  restartPolicy: "string",
  targetContainerName: "string",
  livenessProbe: "any",
  readinessProbe: "any",
  startupProbe: "any",
});

const POD = struct("Pod", {
  metadata: struct("ObjectMeta", {
    name: "string",
    generateName: "string",
    namespace: "string",
    labels,
    annotations: labels,
  }),
  spec: struct("PodSpec", {
    volumes: { list: "any", go: "[]v1.Volume" },
    initContainers: list(CONTAINER),
    containers: list(CONTAINER),
    ephemeralContainers: { list: "any", go: "[]v1.EphemeralContainer" },
    restartPolicy: "string",
    terminationGracePeriodSeconds: "int64",
    activeDeadlineSeconds: "int64",
    dnsPolicy: "string",
    nodeSelector: labels,
    serviceAccountName: "string",
    automountServiceAccountToken: "bool",
    nodeName: "string",
    hostNetwork: "bool",
    hostname: "string",
    subdomain: "string",
    enableServiceLinks: "bool",
    securityContext: struct("PodSecurityContext", {
      runAsUser: "int64",
      runAsGroup: "int64",
      runAsNonRoot: "bool",
      fsGroup: "int64",
      supplementalGroups: { list: "int64", go: "[]int64" },
      sysctls: { list: "any", go: "[]v1.Sysctl" },
      seccompProfile: "any",
    }),
    imagePullSecrets: { list: "any", go: "[]v1.LocalObjectReference" },
    affinity: "any",
    tolerations: list(struct("Toleration", {
      key: "string",
      operator: "string",
      value: "string",
      effect: "string",
      tolerationSeconds: "int64",
    })),
    hostAliases: list(struct("HostAlias", { ip: "string", hostnames: strings })),
    priorityClassName: "string",
    priority: "int32",
    runtimeClassName: "string",
  }),
});

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "object") return "object";
  return typeof value;
}

/** Go's name of a field type, as the decoding message shows it. */
function goName(type: FieldType): string {
  if (typeof type === "string") return type === "any" ? "interface {}" : type;
  if ("list" in type) return type.go;
  if ("map" in type) return type.map === "string" ? "map[string]string" : "v1.ResourceList";
  return `v1.${type.struct}`;
}

/** The first type mismatch in `value`, as Go's decoder words it, or undefined. */
function mismatch(
  value: unknown,
  type: FieldType,
  owner: string,
  path: string,
): string | undefined {
  if (value === null || value === undefined || type === "any") return undefined;
  const actual = jsonType(value);
  const fail = () =>
    `json: cannot unmarshal ${actual} into Go struct field ${owner}.${path} of type ${
      goName(type)
    }`;
  if (type === "string") return actual === "string" ? undefined : fail();
  if (type === "bool") return actual === "boolean" ? undefined : fail();
  if (type === "int32" || type === "int64") {
    return actual === "number" && Number.isInteger(value) ? undefined : fail();
  }
  if ("list" in type) {
    if (actual !== "array") return fail();
    for (const item of value as unknown[]) {
      const problem = mismatch(item, type.list, owner, path);
      if (problem) return problem;
    }
    return undefined;
  }
  if (actual !== "object") return fail();
  if ("map" in type) {
    for (const item of Object.values(value as Record<string, unknown>)) {
      const ok = type.map === "string"
        ? typeof item === "string"
        : typeof item === "string" || typeof item === "number";
      if (!ok) {
        return `json: cannot unmarshal ${jsonType(item)} into Go struct field ${owner}.${path} ` +
          `of type string`;
      }
    }
    return undefined;
  }
  // Go names the struct that declares the field, and the field's whole JSON path.
  for (const [field, fieldType] of Object.entries(type.fields)) {
    const problem = mismatch(
      (value as Record<string, unknown>)[field],
      fieldType,
      type.struct,
      path ? `${path}.${field}` : field,
    );
    if (problem) return problem;
  }
  return undefined;
}

/** Why the real API server could not decode `pod`, or undefined when it could. */
export function podDecodingProblem(pod: unknown): string | undefined {
  const problem = mismatch(pod, POD, "Pod", "");
  return problem && `Pod in version "v1" cannot be handled as a Pod: ${problem}`;
}
