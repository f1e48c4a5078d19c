/**
 * Workflow commands (`::group::`, `::debug::`, `::warning::`, `::error::`, `::add-mask::`): the hook's
 * stdout is the step log, and the runner acts on these lines. {@link formatCommand} escapes the way
 * the runner unescapes (data: `%`, CR, LF; properties also `:` and `,`), so a message with newlines
 * stays one command and a file name with a colon stays one property.
 *
 * @example
 * ```ts
 * group("Preparing job pod");
 * warning("template entry $redis2 matches no service", { file: "tpl.yaml", line: 12 });
 * endGroup();
 * ```
 * @module
 */

/** Properties of an annotation (`::warning file=a.yaml,line=3::message`). */
export type CommandProperties = Record<string, string | number | undefined>;

/** One workflow command line (without the newline). */
export function formatCommand(
  command: string,
  properties: CommandProperties,
  data: string,
): string {
  const props = Object.entries(properties)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${escapeProperty(String(v))}`)
    .join(",");
  return `::${command}${props ? ` ${props}` : ""}::${escapeData(data)}`;
}

/** Escapes a command's data: `%` first, so the runner's unescaping cannot produce a new `%XX`. */
export function escapeData(text: string): string {
  return text.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
}

/** Escapes a property value: as data, plus `:` and `,` which end a property. */
export function escapeProperty(text: string): string {
  return escapeData(text).replaceAll(":", "%3A").replaceAll(",", "%2C");
}

/** Starts a collapsible group in the step log. */
export function group(title: string): void {
  emit(formatCommand("group", {}, title));
}

/** Ends the current group. */
export function endGroup(): void {
  emit("::endgroup::");
}

/** Whether the runner asked for debug logging (`RUNNER_DEBUG=1` or `ACTIONS_STEP_DEBUG=true`). */
export function debugLogging(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): boolean {
  return env.RUNNER_DEBUG === "1" || env.ACTIONS_STEP_DEBUG === "true";
}

/** A detail for debugging: printed only with {@link debugLogging} on, as the runner shows such
 * lines only then (other tools reading the log would show them always). */
export function debug(message: string): void {
  if (debugLogging()) emit(formatCommand("debug", {}, message));
}

/** A warning annotation. */
export function warning(message: string, properties: CommandProperties = {}): void {
  emit(formatCommand("warning", properties, message));
}

/** An error annotation (it does not fail the step; the exit code does). */
export function error(message: string, properties: CommandProperties = {}): void {
  emit(formatCommand("error", properties, message));
}

/** Asks the runner to mask `secret` in all later output. The runner matches masks within one log
 * line, so each line of a multi-line secret is masked too. */
export function addMask(secret: string): void {
  const parts = [secret, ...(secret.includes("\n") ? secret.split(/\r?\n/) : [])];
  for (const part of new Set(parts)) {
    if (part.trim() !== "") emit(formatCommand("add-mask", {}, part));
  }
}

function emit(line: string): void {
  // console.log writes synchronously, so commands keep their order with the rest of stdout.
  console.log(line);
}
