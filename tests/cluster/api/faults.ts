/**
 * Fault injection, so tests can torture clients: what `POST /_cluster/faults` accepts, what is
 * left of each fault, and the questions the rest of the server asks ("should this exec session
 * be cut?", "should this request fail?"). Each question consumes one `count` of the fault that
 * answers it; a fault whose count reaches zero is gone.
 *
 * Exec faults hit the next exec or attach sessions that run, whatever they are, unless a selector
 * aims them ({@link SessionSelector}): `command`, a substring of the session's command (its
 * `command` query parameters joined with spaces; an attach session's is empty), and `skip`, how
 * many matching sessions pass before the fault acts. A test can so cut a step's copy back rather
 * than its start (`{ kind: "exec-drop", afterBytes: 100, command: "pack_exit" }`). `api-error`
 * is aimed by `method` and a `path` regular expression, and takes a `skip` too (matching requests
 * that pass first); with `applied` the server carries the request out before it answers the
 * error. Each fault counts what it matches on its own: a session or request another fault hit
 * counts too.
 *
 * @module
 */
import { badRequest } from "./status.ts";

/** Which exec/attach sessions an exec fault applies to; unset fields match every session. */
export interface SessionSelector {
  /** A substring of the session's command: its `command` query parameters joined with spaces. */
  command?: string;
  /** How many matching sessions pass before the fault acts; counts down as they pass. */
  skip?: number;
}

/** A fault as posted, with `count` (and an exec fault's `skip`) meaning what is left of it. */
export type Fault =
  | { kind: "exec-drop"; afterBytes: number; count: number } & SessionSelector
  | { kind: "exec-stall"; afterBytes: number; count: number } & SessionSelector
  | { kind: "log-drop"; afterBytes: number; count: number }
  | {
    kind: "api-error";
    status: number;
    count: number;
    method?: string;
    path?: string;
    skip?: number;
    /** The server does the work, then answers the error: an answer lost after the fact, which
     * leaves the client not knowing whether its create happened. */
    applied?: boolean;
  }
  | { kind: "pod-start-delay"; ms: number; count?: number }
  | { kind: "unschedulable"; count: number }
  | { kind: "evict"; pod: string; namespace?: string; message?: string };

/** An exec/attach session's fault: cut or stall after this many output bytes. */
export interface ExecFault {
  kind: "exec-drop" | "exec-stall";
  afterBytes: number;
}

const KINDS = [
  "exec-drop",
  "exec-stall",
  "log-drop",
  "api-error",
  "pod-start-delay",
  "unschedulable",
  "evict",
];

function number(input: Record<string, unknown>, field: string, fallback?: number): number {
  const value = input[field] ?? fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw badRequest(
      `fault ${JSON.stringify(input)}: "${field}" must be a non-negative integer`,
    );
  }
  return value;
}

function optionalString(input: Record<string, unknown>, field: string): string | undefined {
  const value = input[field];
  if (value === undefined) return undefined;
  if (typeof value !== "string") {
    throw badRequest(`fault ${JSON.stringify(input)}: "${field}" must be a string`);
  }
  return value;
}

/** Checks one posted fault and fills in defaults (`count` 1, except pod-start-delay: forever). */
export function parseFault(input: unknown): Fault {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw badRequest(`a fault must be a JSON object, got ${JSON.stringify(input)}`);
  }
  const raw = input as Record<string, unknown>;
  const aimable = ["exec-drop", "exec-stall", "api-error"].includes(String(raw.kind));
  if (raw.command !== undefined && raw.kind !== "exec-drop" && raw.kind !== "exec-stall") {
    throw badRequest(
      `fault ${JSON.stringify(input)}: "command" selects exec sessions; only exec-drop and ` +
        "exec-stall take it",
    );
  }
  if (raw.applied !== undefined && raw.kind !== "api-error") {
    throw badRequest(`fault ${JSON.stringify(input)}: "applied" is taken by api-error only`);
  }
  if (raw.skip !== undefined && !aimable) {
    throw badRequest(
      `fault ${JSON.stringify(input)}: "skip" is taken by exec-drop, exec-stall and api-error only`,
    );
  }
  switch (raw.kind) {
    case "exec-drop":
    case "exec-stall": {
      const command = optionalString(raw, "command");
      return {
        kind: raw.kind,
        afterBytes: number(raw, "afterBytes", 0),
        count: number(raw, "count", 1),
        ...(command !== undefined ? { command } : {}),
        ...(raw.skip !== undefined ? { skip: number(raw, "skip") } : {}),
      };
    }
    case "log-drop":
      return {
        kind: raw.kind,
        afterBytes: number(raw, "afterBytes", 0),
        count: number(raw, "count", 1),
      };
    case "api-error": {
      const path = optionalString(raw, "path");
      if (path !== undefined) {
        try {
          new RegExp(path);
        } catch (error) {
          throw badRequest(`fault api-error: "path" is not a valid regular expression: ${error}`);
        }
      }
      const status = number(raw, "status");
      if (status < 400 || status > 599) {
        throw badRequest(`fault api-error: "status" must be an HTTP error status, got ${status}`);
      }
      const method = optionalString(raw, "method")?.toUpperCase();
      return {
        kind: "api-error",
        status,
        count: number(raw, "count", 1),
        ...(method ? { method } : {}),
        ...(path !== undefined ? { path } : {}),
        ...(raw.skip !== undefined ? { skip: number(raw, "skip") } : {}),
        ...(raw.applied === true ? { applied: true } : {}),
      };
    }
    case "pod-start-delay":
      return {
        kind: "pod-start-delay",
        ms: number(raw, "ms"),
        ...(raw.count !== undefined ? { count: number(raw, "count") } : {}),
      };
    case "unschedulable":
      return { kind: "unschedulable", count: number(raw, "count", 1) };
    case "evict": {
      const pod = optionalString(raw, "pod");
      if (!pod) throw badRequest(`fault evict: "pod" (the pod's name) is required`);
      const namespace = optionalString(raw, "namespace");
      const message = optionalString(raw, "message");
      return {
        kind: "evict",
        pod,
        ...(namespace ? { namespace } : {}),
        ...(message ? { message } : {}),
      };
    }
    default:
      throw badRequest(
        `unknown fault kind ${JSON.stringify(raw.kind)}; use one of ${KINDS.join(", ")}`,
      );
  }
}

/** The active faults. */
export class Faults {
  #faults: Fault[] = [];

  /** Parses and adds one fault or an array of them; returns them as stored. Evictions are
   * returned but not kept: the caller carries them out at once. */
  add(input: unknown): Fault[] {
    const faults = (Array.isArray(input) ? input : [input]).map(parseFault);
    this.#faults.push(...faults.filter((f) => f.kind !== "evict"));
    return faults;
  }

  /** Copies of the active faults with what is left of each. */
  list(): Fault[] {
    return structuredClone(this.#faults);
  }

  clear(): void {
    this.#faults = [];
  }

  /** Consumes one count of the first fault matching `test` that has no `skip` left; returns it,
   * or undefined. Every matching fault with a `skip` left counts this one down instead. */
  #take<F extends Fault>(test: (f: Fault) => f is F): F | undefined {
    let taken: F | undefined;
    for (const fault of [...this.#faults]) {
      if (!test(fault)) continue;
      const aimed = fault as F & { count?: number; skip?: number };
      if (aimed.skip) {
        aimed.skip--;
        continue;
      }
      if (taken) continue;
      taken = fault;
      if (aimed.count !== undefined) {
        aimed.count--;
        if (aimed.count <= 0) this.#faults.splice(this.#faults.indexOf(fault), 1);
      }
    }
    return taken;
  }

  /** The fault for an exec/attach session that runs `command` (its `command` query parameters
   * joined with spaces; "" for attach), if one is pending and aimed at it. */
  takeExecFault(command = ""): ExecFault | undefined {
    const fault = this.#take((f): f is Extract<Fault, ExecFault> =>
      (f.kind === "exec-drop" || f.kind === "exec-stall") &&
      (f.command === undefined || command.includes(f.command))
    );
    return fault && { kind: fault.kind, afterBytes: fault.afterBytes };
  }

  /** After how many bytes the next followed pods/log stream is cut, if a log-drop is pending. */
  takeLogDrop(): number | undefined {
    return this.#take((f): f is Extract<Fault, { kind: "log-drop" }> => f.kind === "log-drop")
      ?.afterBytes;
  }

  /** The status an api-error fault imposes on this request, if one matches, and whether the
   * request is to be carried out first (`applied`). */
  takeApiError(method: string, path: string): { status: number; applied: boolean } | undefined {
    const fault = this.#take((f): f is Extract<Fault, { kind: "api-error" }> =>
      f.kind === "api-error" && (!f.method || f.method === method) &&
      (f.path === undefined || new RegExp(f.path).test(path))
    );
    return fault && { status: fault.status, applied: fault.applied === true };
  }

  /** The start delay for the next pod, if a pod-start-delay fault is active. */
  takeStartDelay(): number | undefined {
    return this.#take((f): f is Extract<Fault, { kind: "pod-start-delay" }> =>
      f.kind === "pod-start-delay"
    )?.ms;
  }

  /** Whether the next pod must stay unschedulable. */
  takeUnschedulable(): boolean {
    return this.#take((f): f is Extract<Fault, { kind: "unschedulable" }> =>
      f.kind === "unschedulable"
    ) !== undefined;
  }
}
