/**
 * The response file (protocol §3): the runner creates it empty before a hook call, parses it after and
 * deletes it. It must hold exactly one JSON value, so {@link writeResponse} writes once per file and
 * refuses a second write. {@link prepareJobResponse} builds the one response the runner validates:
 * `state`, `context.container`, `context.services[i]` (each with a `ports` object) and `isAlpine`.
 *
 * @example
 * ```ts
 * await writeResponse(invocation.responseFile, prepareJobResponse({
 *   state: { jobPod: "runner-abc-workflow" },
 *   container: { id: "runner-abc-workflow", network: "" },
 *   services: [{ id: "redis", ports: { "6379": "6379" } }],
 *   isAlpine: false,
 * }));
 * ```
 * @module
 */

/** What the runner records about one container (`job.container`, `job.services.<name>`). */
export interface ResponseContainer {
  id: string;
  network: string;
}

/** One service's entry: `ports` maps the workflow's container port to the port to connect to. */
export interface ResponseService extends ResponseContainer {
  ports: Record<string, string>;
}

/** The prepare_job response, exactly as the runner reads it. */
export interface PrepareJobResponse {
  state: Record<string, unknown>;
  context: { container?: ResponseContainer; services?: ResponseService[] };
  isAlpine: boolean;
}

/** What a later hook may return: a new state, or nothing (the runner keeps the old one). */
export interface StateResponse {
  /** Absent: the runner keeps the state it has (a job without a job pod has none). */
  state?: Record<string, unknown>;
}

/** Inputs of {@link prepareJobResponse}. */
export interface PrepareJobResult {
  /** What later hooks need (the runner hands it back on every call). */
  state: Record<string, unknown>;
  /** The job container, or null/undefined for a job without one. */
  container?: { id: string; network?: string } | null;
  /** One entry per input service, in input order. */
  services: { id: string; network?: string; ports: Record<string, string> }[];
  /** Whether the job container's OS is Alpine (node actions then use `/__e/node20_alpine`). */
  isAlpine: boolean;
}

/** Builds the prepare_job response. `context.services` is left out when there are none: the runner
 * crashes on `services: null`, and an empty list says nothing more. */
export function prepareJobResponse(result: PrepareJobResult): PrepareJobResponse {
  const context: PrepareJobResponse["context"] = {};
  if (result.container) {
    context.container = { id: result.container.id, network: result.container.network ?? "" };
  }
  if (result.services.length > 0) {
    context.services = result.services.map((s) => ({
      id: s.id,
      network: s.network ?? "",
      ports: { ...s.ports },
    }));
  }
  return { state: result.state, context, isAlpine: result.isAlpine };
}

/** Response files written by this process: the protocol allows one JSON value per file. */
const written = new Set<string>();

/** Writes `value` as the one JSON value of the response file at `path`. A second write to the same
 * file throws instead of appending a second value the runner could not parse. */
export async function writeResponse(
  path: string,
  value: PrepareJobResponse | StateResponse,
): Promise<void> {
  if (written.has(path)) {
    throw new Error(
      `kubehook tried to write the response file ${path} twice; the runner reads exactly one JSON value. ` +
        "This is a kubehook bug: please report it.",
    );
  }
  written.add(path);
  try {
    // One write of the whole text; truncate in case the runner's empty file was not empty after all.
    await Deno.writeTextFile(path, JSON.stringify(value));
  } catch (error) {
    throw new Error(
      `Cannot write the hook response file ${path}: ${(error as Error).message}. ` +
        "The runner creates it under <work>/_temp/_runner_hook_responses; check that the directory is writable.",
      { cause: error },
    );
  }
}
