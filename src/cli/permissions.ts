/**
 * The RBAC permissions kubehook needs in its namespace (examples/rbac.yaml grants exactly these:
 * tests/distribution/examples_test.ts compares them), how
 * to ask the API server whether the caller holds one (a SelfSubjectAccessReview per verb), and the
 * Role rule that grants what is missing. Used by `kubehook doctor`.
 *
 * @example
 * ```ts
 * for (const need of REQUIRED_PERMISSIONS) {
 *   const missing = [];
 *   for (const verb of need.verbs) {
 *     if (!await reviewAccess(client, "ci", need.resource, verb)) missing.push(verb);
 *   }
 *   if (missing.length) console.log(roleRule(need.resource, missing));
 * }
 * ```
 * @module
 */
import type { V1SelfSubjectAccessReview } from "@kubernetes/client-node";
import type { KubeClient } from "../kube/client.ts";
import { SELF_SUBJECT_ACCESS_REVIEWS_PATH } from "../kube/paths.ts";

/** Verbs on one resource of the core API group, and why kubehook needs them. */
export interface Permission {
  /** Resource with subresource, e.g. `pods/exec`. */
  resource: string;
  verbs: readonly string[];
  /** What fails without it, in a few words. */
  why: string;
  /** kubehook works without it, another way (doctor warns instead of failing). */
  optional?: boolean;
  /** Only these objects (a Role rule's `resourceNames`). */
  resourceNames?: readonly string[];
}

/** Everything kubehook does in its namespace, and nothing more: each verb is a call it makes. */
export const REQUIRED_PERMISSIONS: readonly Permission[] = [
  {
    resource: "pods",
    verbs: ["get", "list", "watch", "create", "delete"],
    why: "the job pod is created, watched until it runs, and found and deleted at cleanup",
  },
  {
    resource: "pods/exec",
    verbs: ["get", "create"],
    why: "steps and workspace copies run over exec websockets",
  },
  {
    resource: "pods/ephemeralcontainers",
    verbs: ["patch"],
    why:
      "container steps run in the job pod (its network, no copy); without it, in pods of their own",
    optional: true,
  },
  {
    resource: "pods/log",
    verbs: ["get"],
    why: "the output of containers that ran to completion is read from their logs",
  },
  {
    resource: "secrets",
    verbs: ["list", "create", "delete"],
    why: "private job and service images need image pull secrets, removed at cleanup",
  },
  {
    resource: "events",
    verbs: ["list"],
    why: "the job log says why a pod does not start (image pulls, scheduling)",
  },
];

/** What Dockerfile actions' builds need besides: the build context goes to the builder's stdin,
 * and the registry secret `secretName` is read to ask the registry whether an image exists.
 * examples/rbac.yaml has them as a commented block. */
export function buildPermissions(secretName: string): Permission[] {
  return [
    {
      resource: "pods/attach",
      verbs: ["get", "create"],
      why: "the build context is streamed to the builder pod's stdin over an attach websocket",
    },
    {
      resource: "secrets",
      verbs: ["get"],
      resourceNames: [secretName],
      why: "the registry secret's credential asks the registry whether the image was built before",
    },
  ];
}

/** Asks the API server whether the caller may `verb` `resource` (e.g. `pods/exec`) in
 * `namespace`: one SelfSubjectAccessReview. API errors are thrown as KubeApiError. */
export async function reviewAccess(
  client: KubeClient,
  namespace: string,
  resource: string,
  verb: string,
  objectName?: string,
): Promise<boolean> {
  const [name, subresource] = resource.split("/");
  const review: V1SelfSubjectAccessReview = {
    apiVersion: "authorization.k8s.io/v1",
    kind: "SelfSubjectAccessReview",
    spec: {
      resourceAttributes: {
        namespace,
        verb,
        group: "",
        resource: name,
        ...(subresource ? { subresource } : {}),
        ...(objectName ? { name: objectName } : {}),
      },
    },
  };
  const answer = await client.create(SELF_SUBJECT_ACCESS_REVIEWS_PATH, review);
  return answer.status?.allowed === true;
}

/** The Role rule (one YAML list item) granting `verbs` on `resource` in the core API group. */
export function roleRule(
  resource: string,
  verbs: readonly string[],
  resourceNames?: readonly string[],
): string {
  const list = (items: readonly string[]) => `[${items.map((i) => JSON.stringify(i)).join(", ")}]`;
  const names = resourceNames?.length ? `\n  resourceNames: ${list(resourceNames)}` : "";
  return `- apiGroups: [""]\n  resources: ${list([resource])}${names}\n  verbs: ${list(verbs)}`;
}
