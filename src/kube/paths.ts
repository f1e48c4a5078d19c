/**
 * REST paths of the objects kubehook touches, with each name escaped once, here.
 *
 * @module
 */

const ns = (namespace: string) => `/api/v1/namespaces/${encodeURIComponent(namespace)}`;
const named = (base: string, name?: string) =>
  name === undefined ? base : `${base}/${encodeURIComponent(name)}`;

/** `/api/v1/namespaces/{ns}` */
export function namespacePath(namespace: string): string {
  return ns(namespace);
}

/** `/api/v1/namespaces/{ns}/pods[/{name}]` */
export function podsPath(namespace: string, name?: string): string {
  return named(`${ns(namespace)}/pods`, name);
}

/** `/api/v1/namespaces/{ns}/pods/{name}/{exec|attach|log|ephemeralcontainers}` */
export function podSubresourcePath(
  namespace: string,
  name: string,
  subresource: "exec" | "attach" | "log" | "ephemeralcontainers",
): string {
  return `${podsPath(namespace, name)}/${subresource}`;
}

/** `/api/v1/namespaces/{ns}/secrets[/{name}]` */
export function secretsPath(namespace: string, name?: string): string {
  return named(`${ns(namespace)}/secrets`, name);
}

/** `/api/v1/namespaces/{ns}/events` */
export function eventsPath(namespace: string): string {
  return `${ns(namespace)}/events`;
}

/** Where to POST a SelfSubjectAccessReview (only after something failed: never as a pre-check). */
export const SELF_SUBJECT_ACCESS_REVIEWS_PATH =
  "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
