/**
 * Discovery documents kubectl reads before it does anything: `/version`, `/api`, `/apis`, the
 * resource lists of `v1` and `authorization.k8s.io/v1`. They describe exactly what this cluster
 * serves (no `update` verb: objects change through PATCH only).
 *
 * @module
 */

/** The Kubernetes version this cluster claims to be. */
export const VERSION = { major: "1", minor: "32", gitVersion: "v1.32.0" };

const VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "watch"];

/** One APIResource entry of a resource list. */
export interface ApiResource {
  name: string;
  singularName: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
}

/** The `v1` resources: what this cluster stores plus the pod subresources. */
export const CORE_V1: ApiResource[] = [
  {
    name: "events",
    singularName: "event",
    namespaced: true,
    kind: "Event",
    verbs: VERBS,
    shortNames: ["ev"],
  },
  {
    name: "namespaces",
    singularName: "namespace",
    namespaced: false,
    kind: "Namespace",
    verbs: ["create", "delete", "get", "list", "patch", "watch"],
    shortNames: ["ns"],
  },
  {
    name: "persistentvolumeclaims",
    singularName: "persistentvolumeclaim",
    namespaced: true,
    kind: "PersistentVolumeClaim",
    verbs: VERBS,
    shortNames: ["pvc"],
  },
  {
    name: "pods",
    singularName: "pod",
    namespaced: true,
    kind: "Pod",
    verbs: VERBS,
    shortNames: ["po"],
    categories: ["all"],
  },
  {
    name: "pods/attach",
    singularName: "",
    namespaced: true,
    kind: "PodAttachOptions",
    verbs: ["create", "get"],
  },
  {
    name: "pods/ephemeralcontainers",
    singularName: "",
    namespaced: true,
    kind: "Pod",
    verbs: ["get", "patch", "update"],
  },
  {
    name: "pods/exec",
    singularName: "",
    namespaced: true,
    kind: "PodExecOptions",
    verbs: ["create", "get"],
  },
  { name: "pods/log", singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] },
  { name: "secrets", singularName: "secret", namespaced: true, kind: "Secret", verbs: VERBS },
];

/** The `authorization.k8s.io/v1` resources: reviews of the caller's own access. */
export const AUTHORIZATION_V1: ApiResource[] = [
  {
    name: "selfsubjectaccessreviews",
    singularName: "selfsubjectaccessreview",
    namespaced: false,
    kind: "SelfSubjectAccessReview",
    verbs: ["create"],
  },
  {
    name: "selfsubjectrulesreviews",
    singularName: "selfsubjectrulesreview",
    namespaced: false,
    kind: "SelfSubjectRulesReview",
    verbs: ["create"],
  },
];

const AUTHORIZATION_GROUP = {
  name: "authorization.k8s.io",
  versions: [{ groupVersion: "authorization.k8s.io/v1", version: "v1" }],
  preferredVersion: { groupVersion: "authorization.k8s.io/v1", version: "v1" },
};

/** The discovery document at `path`, or undefined when the path is not a discovery path. */
export function discoveryDocument(path: string, serverAddress: string): unknown {
  switch (path.replace(/\/+$/, "")) {
    case "/version":
      return {
        ...VERSION,
        gitCommit: "0000000000000000000000000000000000000000",
        gitTreeState: "clean",
        buildDate: "2024-12-11T00:00:00Z",
        goVersion: "go1.23.4",
        compiler: "gc",
        platform: "linux/amd64",
      };
    case "/api":
      return {
        kind: "APIVersions",
        versions: ["v1"],
        serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
      };
    case "/apis":
      return { kind: "APIGroupList", apiVersion: "v1", groups: [AUTHORIZATION_GROUP] };
    case "/api/v1":
      return { kind: "APIResourceList", groupVersion: "v1", resources: CORE_V1 };
    case "/apis/authorization.k8s.io":
      return { kind: "APIGroup", apiVersion: "v1", ...AUTHORIZATION_GROUP };
    case "/apis/authorization.k8s.io/v1":
      return {
        kind: "APIResourceList",
        apiVersion: "v1",
        groupVersion: "authorization.k8s.io/v1",
        resources: AUTHORIZATION_V1,
      };
    default:
      return undefined;
  }
}
