/**
 * A Pod decoded as the real API server decodes it: a value of the wrong JSON type (a map where a
 * list belongs, a string for a number) is refused before any validation, with Go's decoding
 * message, e.g. `Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal object
 * into Go struct field PodSpec.spec.tolerations of type []v1.Toleration`. The field types are the
 * real release's (src/pod/pod_schema.ts); fields it does not know are dropped by the real server,
 * so they are left alone here too.
 *
 * @module
 */
import { goTypeName, schemaProblems } from "../../../src/pod/pod_schema.ts";

/** Why the real API server could not decode `pod`, or undefined when it could. */
export function podDecodingProblem(pod: unknown): string | undefined {
  const problem = schemaProblems(pod, "Pod", "Pod").find((p) => p.kind === "type");
  if (!problem) return undefined;
  const preamble = 'Pod in version "v1" cannot be handled as a Pod: ';
  if (problem.expected === "quantity") {
    return `${preamble}quantities must match the regular expression ` +
      "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
  }
  // Go names the struct that declares the field, the field names from the root, and the type of
  // what did not fit (an item's type for a list's or a map's item).
  return `${preamble}json: cannot unmarshal ${problem.found} ` +
    `into Go struct field ${problem.owner}.${problem.fields.join(".")} of type ${
      goTypeName(problem.expected)
    }`;
}
