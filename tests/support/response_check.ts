/**
 * The checks the runner applies to a successful hook's response file (protocol §3), so black-box
 * tests fail on a response the real runner would reject: prepare_job must answer, with a boolean
 * `isAlpine`, and `context.services` (if present) must be a list no longer than the input services,
 * each entry with a `ports` object.
 *
 * @module
 */

/** The runner's own checks of a successful hook's response (protocol §3). */
export function checkResponse(
  command: string,
  args: unknown,
  response: unknown,
  code: number,
): string | undefined {
  if (code !== 0 || command !== "prepare_job") return undefined;
  const r = response as { isAlpine?: unknown; context?: { services?: unknown } } | null;
  if (r === null) return "prepare_job left the response file empty";
  if (typeof r.isAlpine !== "boolean") return "prepare_job response has no boolean isAlpine";
  const services = r.context?.services;
  if (services === undefined) return undefined;
  if (!Array.isArray(services)) return "context.services is not a list (null crashes the runner)";
  const inputs = (args as { services: unknown[] }).services.length;
  if (services.length > inputs) {
    return `context.services has ${services.length} entries for ${inputs} services`;
  }
  const bad = services.findIndex((s) => typeof s?.ports !== "object" || s.ports === null);
  return bad >= 0 ? `context.services[${bad}] has no ports object` : undefined;
}
