/**
 * A container log read with `timestamps=true`, as lines: the kubelet prefixes every line with the
 * RFC 3339 time the runtime wrote it (nanoseconds, an offset or `Z`) and a space. The times are
 * what makes a followed log resumable: after a broken connection the log is asked for again from
 * the second of the last line shown, and {@link LogResume} drops what was already shown — every
 * line appears once. Bytes are kept as they came (a log need not be UTF-8).
 *
 * @example
 * ```ts
 * const resume = new LogResume();
 * const [line] = splitLogLines(new TextEncoder().encode("2026-12-03T11:20:10.5Z hi\n"));
 * resume.take(line.time!); // true: not shown before
 * resume.since();          // "2026-12-03T11:20:10Z"
 * ```
 * @module
 */
import { concat } from "../bytes.ts";

/** A log line's time: seconds since the epoch and the nanoseconds within that second. */
export interface LogTime {
  seconds: number;
  nanos: number;
}

/** One line of a timestamped log. */
export interface LogLine {
  /** Undefined when the line had no readable time (it is then shown, never deduplicated). */
  time?: LogTime;
  /** The line's bytes after the time and its space, with the newline when the line had one. */
  text: Uint8Array;
  /** A piece of a line too long to keep whole: more of it follows. */
  partial?: true;
}

const TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;
const NEWLINE = 10;
const SPACE = 32;
/** A time is at most 35 bytes (`2006-01-02T15:04:05.999999999+07:00`). */
const MAX_TIME = 35;

/** Parses a kubelet log time, or undefined when it is not one. */
export function parseLogTime(text: string): LogTime | undefined {
  const match = TIME.exec(text);
  if (!match) return undefined;
  const millis = Date.parse(`${match[1]}${match[3]}`);
  if (Number.isNaN(millis)) return undefined;
  return { seconds: millis / 1000, nanos: Number((match[2] ?? "").padEnd(9, "0")) };
}

/** Negative, zero or positive as `a` is before, at or after `b`. */
export function compareLogTimes(a: LogTime, b: LogTime): number {
  return a.seconds - b.seconds || a.nanos - b.nanos;
}

/** Splits complete lines (each ending in a newline) into their time and text; the caller keeps
 * the unfinished rest (see {@link LogLineSplitter}). */
export function splitLogLines(bytes: Uint8Array): LogLine[] {
  const lines: LogLine[] = [];
  let start = 0;
  for (let i = bytes.indexOf(NEWLINE); i >= 0; i = bytes.indexOf(NEWLINE, start)) {
    lines.push(parseLine(bytes.subarray(start, i + 1)));
    start = i + 1;
  }
  return lines;
}

function parseLine(line: Uint8Array): LogLine {
  const space = line.subarray(0, MAX_TIME + 1).indexOf(SPACE);
  if (space < 0) return { text: line };
  const time = parseLogTime(new TextDecoder().decode(line.subarray(0, space)));
  return time ? { time, text: line.subarray(space + 1) } : { text: line };
}

/** The longest line kept whole: a container decides its lines' length, so a longer one is passed
 * on in pieces of this size (the first with the line's time), never gathered in memory. */
export const MAX_LOG_LINE = 1024 * 1024;

/** Turns a timestamped log stream into lines; a last line without newline comes at the end. A line
 * longer than {@link MAX_LOG_LINE} comes in pieces marked `partial` (all but its last). */
export class LogLineSplitter extends TransformStream<Uint8Array, LogLine> {
  constructor(maxLine = MAX_LOG_LINE) {
    let pending: Uint8Array = new Uint8Array(0);
    /** The pending bytes continue a line whose start was passed on: they carry no time. */
    let continuing = false;
    super({
      transform(chunk, controller) {
        let bytes = pending.length ? concat([pending, chunk]) : chunk;
        const end = bytes.lastIndexOf(NEWLINE) + 1;
        const lines = splitLogLines(bytes.subarray(0, end));
        if (continuing && lines.length > 0) {
          // The first complete line is the end of a long one: its bytes are text, not a time.
          const first = bytes.subarray(0, bytes.indexOf(NEWLINE) + 1);
          lines[0] = { text: first };
          continuing = false;
        }
        for (const line of lines) controller.enqueue(line);
        bytes = bytes.slice(end);
        while (bytes.length > maxLine) {
          const piece = bytes.subarray(0, maxLine);
          controller.enqueue({
            ...(continuing ? { text: piece } : parseLine(piece)),
            partial: true,
          });
          continuing = true;
          bytes = bytes.slice(maxLine);
        }
        pending = bytes;
      },
      flush(controller) {
        if (pending.length) controller.enqueue(continuing ? { text: pending } : parseLine(pending));
      },
    });
  }
}

/** Remembers where a followed log was shown up to, across connections. */
export class LogResume {
  #last: LogTime | undefined;
  /** Lines shown with exactly the time `#last` (several lines can share one). */
  #atLast = 0;
  /** On a new connection: lines at `#last` it repeats before the new ones. */
  #repeat = 0;

  /** Whether a line with this time is new (then it counts as shown). Lines arrive in time order. */
  take(time: LogTime): boolean {
    if (this.#last) {
      const order = compareLogTimes(time, this.#last);
      if (order < 0) return false;
      if (order === 0) {
        if (this.#repeat > 0) {
          this.#repeat--;
          return false;
        }
        this.#atLast++;
        return true;
      }
    }
    this.#last = time;
    this.#atLast = 1;
    this.#repeat = 0;
    return true;
  }

  /** Call before reading from a new connection: its lines from {@link since} on come again. */
  reconnect(): void {
    this.#repeat = this.#atLast;
  }

  /** `sinceTime` for the next connection: the second of the last line shown (the API server
   * passes whole seconds to the kubelet), or undefined when nothing was shown yet. */
  since(): string | undefined {
    if (!this.#last) return undefined;
    return new Date(Math.floor(this.#last.seconds) * 1000).toISOString().replace(/\.\d+Z$/, "Z");
  }
}
