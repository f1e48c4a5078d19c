/**
 * The Secret that carries a container step's environment into its container (`envFrom`): values
 * stay out of the pod spec, which anyone who may read pods can see, and reach the action
 * verbatim. Immutable, labelled like everything else kubehook makes, removed after the step.
 *
 * @example
 * ```ts
 * const secret = renderEnvSecret({
 *   name: secretName("arc-x"), data: { TOKEN: "s3cret" }, labels: kubehookLabels("arc-x", "j"),
 * });
 * ```
 * @module
 */
import type { V1OwnerReference, V1Secret } from "@kubernetes/client-node";
import { base64Utf8 } from "../bytes.ts";

/** What the Secret is made from. */
export interface EnvSecretInput {
  name: string;
  /** Variable name → value; names must be valid Secret keys. */
  data: Record<string, string>;
  labels: Record<string, string>;
  ownerReferences?: V1OwnerReference[];
}

/** Renders the immutable Opaque Secret. */
export function renderEnvSecret(input: EnvSecretInput): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    immutable: true,
    metadata: {
      name: input.name,
      labels: { ...input.labels },
      ...(input.ownerReferences?.length ? { ownerReferences: input.ownerReferences } : {}),
    },
    data: Object.fromEntries(
      Object.entries(input.data).map(([key, value]) => [key, base64Utf8(value)]),
    ),
  };
}
