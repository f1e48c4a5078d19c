/**
 * Label and field selectors as the API server parses them from `labelSelector` and
 * `fieldSelector`: `a=b,c!=d,e,!f,k in (a,b),k notin (x)` for labels (comma means AND), and
 * `path=value` / `path!=value` over an object's fields.
 *
 * ```ts
 * const match = parseLabelSelector("app=web,tier in (front,back)");
 * match({ app: "web", tier: "front" }); // true
 * ```
 *
 * @module
 */
import { badRequest } from "./status.ts";

/** Decides whether a set of labels matches. */
export type LabelMatcher = (labels: Record<string, string> | undefined) => boolean;
/** Decides whether an object matches. */
export type FieldMatcher = (object: unknown) => boolean;

type Requirement = (labels: Record<string, string>) => boolean;

const KEY = /^([a-z0-9A-Z.\-]+\/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$/;
const VALUE = /^([a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?)?$/;

/** Splits on commas that are not inside parentheses. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const ch = selector[i];
    if (ch === "(") depth++;
    else if (ch === ")") depth--;
    else if (ch === "," && depth === 0) {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms.map((t) => t.trim()).filter((t) => t !== "");
}

function checkKey(key: string, selector: string): string {
  if (!KEY.test(key) || key.length > 316) {
    throw badRequest(
      `unable to parse requirement: invalid label key "${key}" in selector "${selector}"`,
    );
  }
  return key;
}

function checkValue(value: string, selector: string): string {
  if (!VALUE.test(value) || value.length > 63) {
    throw badRequest(
      `unable to parse requirement: invalid label value "${value}" in selector "${selector}"`,
    );
  }
  return value;
}

function parseTerm(term: string, selector: string): Requirement {
  const set = term.match(/^(\S+)\s+(in|notin)\s*\((.*)\)$/);
  if (set) {
    const key = checkKey(set[1], selector);
    const values = new Set(
      set[3].split(",").map((v) => checkValue(v.trim(), selector)),
    );
    return set[2] === "in"
      ? (l) => key in l && values.has(l[key])
      : (l) => !(key in l) || !values.has(l[key]);
  }
  const op = term.match(/^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/);
  if (op) {
    const key = checkKey(op[1], selector);
    const value = checkValue(op[3].trim(), selector);
    return op[2] === "!=" ? (l) => l[key] !== value : (l) => l[key] === value;
  }
  if (term.startsWith("!")) {
    const key = checkKey(term.slice(1).trim(), selector);
    return (l) => !(key in l);
  }
  const key = checkKey(term, selector);
  return (l) => key in l;
}

/** Parses a label selector; throws a 400 Status error naming the bad term. Empty matches all. */
export function parseLabelSelector(selector: string | null | undefined): LabelMatcher {
  const requirements = splitTerms(selector ?? "").map((t) => parseTerm(t, selector ?? ""));
  return (labels) => requirements.every((r) => r(labels ?? {}));
}

/** The value at a dotted path (`metadata.name`, `involvedObject.uid`) as a string, "" if absent. */
function fieldValue(object: unknown, path: string): string {
  let current: unknown = object;
  for (const part of path.split(".")) {
    if (current === null || typeof current !== "object") return "";
    current = (current as Record<string, unknown>)[part];
  }
  return current === undefined || current === null ? "" : String(current);
}

/** Parses a field selector (`metadata.name=x,status.phase!=Running`); empty matches all. */
export function parseFieldSelector(selector: string | null | undefined): FieldMatcher {
  const terms = splitTerms(selector ?? "").map((term) => {
    const m = term.match(/^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m) {
      throw badRequest(`invalid field selector "${selector}": "${term}" is not path=value`);
    }
    const [, path, op, value] = m;
    return op === "!="
      ? (o: unknown) => fieldValue(o, path) !== value
      : (o: unknown) => fieldValue(o, path) === value;
  });
  return (object) => terms.every((t) => t(object));
}
