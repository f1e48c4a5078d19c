/**
 * Quoting for the POSIX shell scripts kubehook runs in pods, shared by every layer that writes
 * one (step environments, transfer fragments, the local cluster's sandboxes).
 *
 * @example
 * ```ts
 * shellQuote("it's $HOME"); // "'it'\\''s $HOME'"
 * ```
 * @module
 */

/** Single-quotes `value` for sh: the only character to handle is the single quote itself. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
