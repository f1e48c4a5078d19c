/**
 * Pod templates (ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE): a YAML PodTemplateSpec (`metadata`, `spec`)
 * that platform teams use to add what a job pod needs in their cluster (resources, node selection,
 * securityContext, sidecars). {@link loadPodTemplate} / {@link parsePodTemplate} read and check it,
 * remembering where each piece is in the file so every error and warning points at `file:line`;
 * `mergePodTemplate` (template_merge.ts) applies it by ADR 0134's rules.
 *
 * `yaml` is imported lazily: most hook calls never read a template.
 *
 * @example
 * ```ts
 * const template = await loadPodTemplate(settings.templatePath!);
 * const { pod, warnings } = mergePodTemplate(renderJobPod(input), template, { serviceNames });
 * ```
 * @module
 */
import type { V1Container, V1PodSpec, V1Volume } from "@kubernetes/client-node";
import type { Document, LineCounter, YAMLError } from "yaml";
import { describeType, schemaProblems } from "./pod_schema.ts";

/** A template container: `$job`, `$<service>` (merged) or a sidecar (added). */
export type TemplateContainer = Partial<V1Container> & { name: string };

/** An item of the template with its place in the file (`file:line:column`). */
export interface Located<T> {
  value: T;
  at: string;
}

/** A parsed, checked pod template. */
export interface PodTemplate {
  /** The file it came from (for messages). */
  file: string;
  /** Parts of the file that were ignored, one sentence each with `file:line:column`. */
  warnings: string[];
  labels: (Located<string> & { key: string })[];
  annotations: Record<string, string>;
  /** Pod spec fields other than `containers` and `volumes`. */
  spec: Partial<V1PodSpec>;
  /** Where each spec field is, by field name. */
  specAt: Record<string, string>;
  containers: Located<TemplateContainer>[];
  volumes: Located<V1Volume>[];
}

/** A template that cannot be used; the message names the file and line and says the fix. */
export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TemplateError";
  }
}

/** Reads and parses the template at `path`; an unreadable file is a {@link TemplateError}. */
export async function loadPodTemplate(path: string): Promise<PodTemplate> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new TemplateError(
      `Cannot read the pod template ${path} (ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE): ${
        (error as Error).message
      }. ` +
        "Mount the file into the runner pod at that path, or unset the variable.",
    );
  }
  return await parsePodTemplate(text, path);
}

/** Parses template `text` read from `file` and checks its shape. */
export async function parsePodTemplate(text: string, file: string): Promise<PodTemplate> {
  const { parseDocument, LineCounter } = await import("yaml");
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) throw syntaxError(doc.errors[0], text, file, lines);
  const at = locator(doc, lines, file);
  const root = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const top = mapping(root, [], at, "a PodTemplateSpec with `metadata` and `spec`");
  // Upstream silently ignores what it does not use; kubehook ignores it too (templates keep
  // working) but says so, because it is usually a typo (`specs:`) or a misunderstanding.
  const warnings: string[] = [];
  for (const key of Object.keys(top)) {
    if (!["metadata", "spec", "apiVersion", "kind"].includes(key)) {
      warnings.push(
        `Pod template ${at([key])}: unknown top-level field "${key}" was ignored; a template has ` +
          "only `metadata` and `spec`.",
      );
    }
  }
  const metadata = mapping(top.metadata ?? {}, ["metadata"], at, "a mapping");
  for (const key of Object.keys(metadata)) {
    if (key !== "labels" && key !== "annotations") {
      warnings.push(
        `Pod template ${
          at(["metadata", key])
        }: metadata.${key} was ignored; a template only adds ` +
          "labels and annotations.",
      );
    }
  }
  const labels = strings(metadata.labels, ["metadata", "labels"], at);
  const spec = mapping(top.spec ?? {}, ["spec"], at, "a pod spec mapping");
  const { containers, volumes, ...rest } = spec;
  const specAt: Record<string, string> = {};
  for (const key of Object.keys(rest)) specAt[key] = at(["spec", key]);
  const template: PodTemplate = {
    file,
    warnings,
    labels: Object.entries(labels).map(([key, value]) => ({
      key,
      value,
      at: at(["metadata", "labels", key]),
    })),
    annotations: strings(metadata.annotations, ["metadata", "annotations"], at),
    spec: rest as Partial<V1PodSpec>,
    specAt,
    containers: items(containers, ["spec", "containers"], at).map(({ value, at: where }, i) => ({
      value: templateContainer(value, ["spec", "containers", i], at),
      at: where,
    })),
    volumes: items(volumes, ["spec", "volumes"], at).map(({ value, at: where }) => {
      if (typeof value.name !== "string" || value.name === "") {
        fail(where, "a volume needs a `name`");
      }
      return { value: value as unknown as V1Volume, at: where };
    }),
  };
  // After kubehook's own checks (what it needs, said its way): what the API server would refuse.
  checkFieldTypes(spec, at, warnings);
  return template;
}

/** The spec against the Pod schema of the Kubernetes release kubehook targets: every value of the
 * wrong type is an error, all named at once with their places (the API server would refuse the
 * pod); a field Kubernetes does not know is a warning (it would drop it). */
function checkFieldTypes(spec: Record<string, unknown>, at: At, warnings: string[]): void {
  const wrong: string[] = [];
  for (const problem of schemaProblems(spec, "PodSpec")) {
    const path = ["spec", ...problem.path];
    const field = dotted(path);
    if (problem.kind === "unknown") {
      warnings.push(
        `Pod template ${at(path)}: ${field} is not a field of ${problem.owner} in Kubernetes, ` +
          "which drops it; check its spelling and place.",
      );
    } else {
      wrong.push(
        `${at(path)}: ${field} must be ${describeType(problem.expected)}, not ${
          article(problem.found)
        }`,
      );
    }
  }
  if (wrong.length === 1) throw new TemplateError(`Pod template ${wrong[0]}. Fix the template.`);
  if (wrong.length > 1) {
    throw new TemplateError(
      `Pod template: ${wrong.length} values the API server would refuse:\n` +
        wrong.map((w) => `  ${w}`).join("\n") + "\nFix the template.",
    );
  }
}

/** `spec.containers[0].ports[1].containerPort`. */
function dotted(path: Path): string {
  return path.map((p, i) => typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`).join("");
}

function article(jsonType: string): string {
  return {
    object: "a mapping",
    array: "a list",
    string: "a string",
    number: "a number",
    bool: "true or false",
  }[jsonType] ?? jsonType;
}

/** The parser's first error, where the mistake is: an unclosed `[`, `{` or quote is noticed only
 * where the next line starts, so it is shown where it was opened, the parser's place beside. */
function syntaxError(error: YAMLError, text: string, file: string, lines: LineCounter): Error {
  const noticed = error.linePos?.[0];
  // The parser appends its own " at line L, column C:" and an excerpt; the place is given here.
  const said = error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
  const opener = /end with a ([\]}])/.exec(said)?.[1] ??
    (/Missing closing (["'])quote/.exec(said)?.[1]);
  const opened = opener ? openedAt(text, error.pos[0], opener) : undefined;
  const where = opened === undefined ? noticed : lines.linePos(opened);
  const place = where ? `:${where.line}:${where.col}` : "";
  const beside = opened !== undefined && noticed
    ? ` (noticed at ${noticed.line}:${noticed.col})`
    : "";
  return new TemplateError(
    `Pod template ${file}${place} is not valid YAML: ${said}${beside}. Fix the syntax there.`,
  );
}

/** Where the collection or quoted string that `closer` would end was opened, before `before`: the
 * last `[` (for `]`), `{` (for `}`) or the quote itself that is not closed on its own line. */
function openedAt(text: string, before: number, closer: string): number | undefined {
  const open = closer === "]" ? "[" : closer === "}" ? "{" : closer;
  const head = text.slice(0, before);
  for (let end = head.length; end > 0;) {
    const start = head.lastIndexOf("\n", end - 1) + 1;
    const line = head.slice(start, end);
    const at = open === closer ? unclosedQuote(line, open) : unclosedBracket(line, open, closer);
    if (at !== undefined) return start + at;
    end = start - 1;
  }
  return undefined;
}

function unclosedBracket(line: string, open: string, close: string): number | undefined {
  const stack: number[] = [];
  for (let i = 0; i < line.length; i++) {
    if (line[i] === "#" && (i === 0 || line[i - 1] === " ")) break;
    if (line[i] === open) stack.push(i);
    else if (line[i] === close) stack.pop();
  }
  return stack[0];
}

function unclosedQuote(line: string, quote: string): number | undefined {
  let at: number | undefined;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === quote) at = at === undefined ? i : undefined;
  }
  return at;
}

type Path = (string | number)[];
type At = (path: Path) => string;

/** `file:line:column` of the node at `path`, or of the closest parent that exists. */
function locator(doc: Document, lines: LineCounter, file: string): At {
  return (path) => {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      const range = (node as { range?: [number, number, number] } | undefined)?.range;
      if (range) {
        const { line, col } = lines.linePos(range[0]);
        return `${file}:${line}:${col}`;
      }
    }
    return file;
  };
}

function fail(where: string, problem: string): never {
  throw new TemplateError(`Pod template ${where}: ${problem}. Fix the template.`);
}

function mapping(value: unknown, path: Path, at: At, what: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    fail(at(path), `${path.join(".") || "the document"} must be ${what}`);
  }
  return value as Record<string, unknown>;
}

/** Labels and annotations: Kubernetes wants strings, and YAML reads `true` or `8080` as other types. */
function strings(value: unknown, path: Path, at: At): Record<string, string> {
  const map = mapping(value ?? {}, path, at, "a mapping of strings");
  for (const [key, v] of Object.entries(map)) {
    if (typeof v !== "string") {
      fail(at([...path, key]), `${path.join(".")}.${key} must be a string; quote the value`);
    }
  }
  return map as Record<string, string>;
}

function items(value: unknown, path: Path, at: At): Located<Record<string, unknown>>[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(at(path), `${path.join(".")} must be a list`);
  return value.map((item, i) => ({
    value: mapping(item, [...path, i], at, "a mapping"),
    at: at([...path, i]),
  }));
}

function templateContainer(value: Record<string, unknown>, path: Path, at: At): TemplateContainer {
  if (typeof value.name !== "string" || value.name === "") {
    fail(at(path), "a container needs a `name`: `$job`, `$<service>` or a sidecar's own name");
  }
  for (const list of ["env", "volumeMounts", "ports"]) {
    if (value[list] !== undefined && !Array.isArray(value[list])) {
      fail(at([...path, list]), `${list} must be a list`);
    }
  }
  return value as TemplateContainer;
}
