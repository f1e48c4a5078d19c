/**
 * `authorization.k8s.io/v1` reviews of the caller's own access, answered from the policy in
 * authz.ts: SelfSubjectAccessReview (`kubectl auth can-i VERB RESOURCE`) and
 * SelfSubjectRulesReview (`kubectl auth can-i --list`).
 *
 * @module
 */
import { isAllowed, ROLE_NAMESPACE, rulesOf, type User } from "./authz.ts";
import { badRequest } from "./status.ts";

type Json = Record<string, unknown>;

const DISCOVERY_URLS = ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi"]
  .concat(["/openapi/*", "/readyz", "/version", "/version/"]);

function reviewSpec(body: Json): Json {
  const spec = body.spec as Json | undefined;
  if (!spec || typeof spec !== "object") {
    throw badRequest("the review has no spec: send spec.resourceAttributes or spec.namespace");
  }
  return spec;
}

/** The created SelfSubjectAccessReview for `body`, with `status.allowed`. */
export function accessReview(user: User, body: Json): Json {
  const spec = reviewSpec(body);
  const attrs = spec.resourceAttributes as Json | undefined;
  let allowed: boolean;
  if (attrs) {
    const namespace = attrs.namespace ? String(attrs.namespace) : undefined;
    allowed = isAllowed(user, {
      verb: String(attrs.verb ?? ""),
      group: String(attrs.group ?? ""),
      resource: String(attrs.resource ?? ""),
      ...(attrs.subresource ? { subresource: String(attrs.subresource) } : {}),
      ...(namespace ? { namespace } : {}),
      ...(attrs.name ? { name: String(attrs.name) } : {}),
    });
  } else {
    const nonResource = (spec.nonResourceAttributes ?? {}) as Json;
    allowed = user.identity === "admin" ||
      (nonResource.verb === "get" && DISCOVERY_URLS.includes(String(nonResource.path)));
  }
  return {
    kind: "SelfSubjectAccessReview",
    apiVersion: "authorization.k8s.io/v1",
    metadata: { creationTimestamp: null },
    spec,
    status: allowed
      ? { allowed: true, reason: `allowed by the local cluster's policy for ${user.identity}` }
      : { allowed: false },
  };
}

/** The created SelfSubjectRulesReview: every rule the caller holds in a namespace. */
export function rulesReview(user: User, body: Json): Json {
  const spec = reviewSpec(body);
  const selfReviews = {
    verbs: ["create"],
    apiGroups: ["authorization.k8s.io"],
    resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
  };
  const resourceRules = user.identity === "admin"
    ? [{ verbs: ["*"], apiGroups: ["*"], resources: ["*"] }]
    : [
      selfReviews,
      ...((spec as { namespace?: string }).namespace === ROLE_NAMESPACE
        ? rulesOf(user.identity)
        : []).map((rule) => ({
          verbs: rule.verbs ?? [],
          apiGroups: [""],
          resources: rule.resources ?? [],
          ...(rule.resourceNames ? { resourceNames: rule.resourceNames } : {}),
        })),
    ];
  const nonResourceRules = user.identity === "admin"
    ? [{ verbs: ["*"], nonResourceURLs: ["*"] }]
    : [{ verbs: ["get"], nonResourceURLs: DISCOVERY_URLS }];
  return {
    kind: "SelfSubjectRulesReview",
    apiVersion: "authorization.k8s.io/v1",
    metadata: { creationTimestamp: null },
    spec,
    status: { resourceRules, nonResourceRules, incomplete: false },
  };
}
