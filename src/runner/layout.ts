/**
 * The runner's `<work>` directory on the host and how its paths appear inside containers
 * (protocol §4). {@link workLayout} reads the host layout from the hook's environment; the mapping
 * tables translate between host and container paths for the job container
 * ({@link jobContainerMappings}) and for container actions ({@link containerActionMappings}).
 *
 * @example
 * ```ts
 * const layout = workLayout(Deno.env.toObject());
 * const map = jobContainerMappings(layout);
 * toContainerPath(map, `${layout.temp}/abc.sh`); // "/__w/_temp/abc.sh"
 * ```
 * @module
 */

/** Host paths of the runner's working directories. */
export interface WorkLayout {
  /** `<work>`: parent of RUNNER_WORKSPACE (e.g. /home/runner/_work). */
  work: string;
  /** RUNNER_WORKSPACE: `<work>/<repo>`. */
  runnerWorkspace: string;
  /** GITHUB_WORKSPACE: `<work>/<repo>/<repo>`, the hook's working directory. */
  workspace: string;
  /** RUNNER_TEMP: `<work>/_temp`. */
  temp: string;
  /** `<work>/_actions`: downloaded actions. */
  actions: string;
  /** The tool cache (RUNNER_TOOL_CACHE, by default `<work>/_tool`). */
  tool: string;
  /** `<work>/_temp/_github_home`: `HOME` of the job container. */
  githubHome: string;
  /** `<work>/_temp/_github_workflow`: holds `event.json`. */
  githubWorkflow: string;
  /** `<work>/_temp/_runner_file_commands`: GITHUB_ENV, GITHUB_OUTPUT, ... files. */
  fileCommands: string;
  /** `<runner>/externals` in the runner's default layout (`<work>` is `<runner>/_work`). */
  externals: string;
}

/** The container paths of the job container (protocol §4). */
export const CONTAINER_WORK = "/__w";
export const CONTAINER_EXTERNALS = "/__e";
export const CONTAINER_TOOLS = "/__t";
export const CONTAINER_GITHUB_HOME = "/github/home";
export const CONTAINER_GITHUB_WORKFLOW = "/github/workflow";

/** One directory as seen on the host and in a container. */
export interface PathMapping {
  host: string;
  container: string;
}

/** The hook's environment misses a variable the runner always sets, or holds an unusable path. */
export class LayoutError extends Error {
  /** The variable at fault. */
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(message);
    this.name = "LayoutError";
    this.variable = variable;
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads the host `<work>` layout from the runner's variables (RUNNER_WORKSPACE, GITHUB_WORKSPACE,
 * RUNNER_TEMP, RUNNER_TOOL_CACHE). */
export function workLayout(env: Env): WorkLayout {
  const runnerWorkspace = absolute(env, "RUNNER_WORKSPACE");
  const workspace = absolute(env, "GITHUB_WORKSPACE");
  const work = parent(runnerWorkspace);
  for (
    const [name, path] of [["RUNNER_WORKSPACE", runnerWorkspace], ["GITHUB_WORKSPACE", workspace]]
  ) {
    if (!inside(work, path) || path === work) {
      throw new LayoutError(
        name,
        `${name}=${path} is not inside the runner's work directory ${work}: kubehook can only map ` +
          "workspaces that live under <work> into the job pod. Use the runner's default work layout.",
      );
    }
  }
  const temp = env.RUNNER_TEMP ? absolute(env, "RUNNER_TEMP") : `${work}/_temp`;
  return {
    work,
    runnerWorkspace,
    workspace,
    temp,
    actions: `${work}/_actions`,
    tool: env.RUNNER_TOOL_CACHE ? absolute(env, "RUNNER_TOOL_CACHE") : `${work}/_tool`,
    githubHome: `${temp}/_github_home`,
    githubWorkflow: `${temp}/_github_workflow`,
    fileCommands: `${temp}/_runner_file_commands`,
    externals: `${parent(work)}/externals`,
  };
}

/** Host ↔ job container directories: `<work>` is `/__w` (so `_temp`, `_actions`, the workspace follow),
 * externals are `/__e`, `_github_home` and `_github_workflow` also appear at `/github/home` and
 * `/github/workflow`, and a tool cache outside `<work>` is `/__t`. */
export function jobContainerMappings(layout: WorkLayout): PathMapping[] {
  const mappings: PathMapping[] = [
    { host: layout.work, container: CONTAINER_WORK },
    { host: layout.externals, container: CONTAINER_EXTERNALS },
    { host: layout.githubHome, container: CONTAINER_GITHUB_HOME },
    { host: layout.githubWorkflow, container: CONTAINER_GITHUB_WORKFLOW },
  ];
  if (!inside(layout.work, layout.tool)) {
    mappings.push({ host: layout.tool, container: CONTAINER_TOOLS });
  }
  return mappings;
}

/** Host ↔ container-action directories: actions see `/github/*` paths, never `/__w` or `/__e`. */
export function containerActionMappings(layout: WorkLayout): PathMapping[] {
  return [
    { host: layout.workspace, container: "/github/workspace" },
    { host: layout.temp, container: "/github/runner_temp" },
    { host: layout.githubHome, container: CONTAINER_GITHUB_HOME },
    { host: layout.githubWorkflow, container: CONTAINER_GITHUB_WORKFLOW },
    { host: layout.fileCommands, container: "/github/file_commands" },
  ];
}

/** The container path of a host path (the most specific mapping wins), or undefined when no
 * mapping covers it. */
export function toContainerPath(
  mappings: readonly PathMapping[],
  hostPath: string,
): string | undefined {
  return translate(mappings.map((m) => [m.host, m.container]), hostPath);
}

/** The host path of a container path (the most specific mapping wins), or undefined. */
export function toHostPath(
  mappings: readonly PathMapping[],
  containerPath: string,
): string | undefined {
  return translate(mappings.map((m) => [m.container, m.host]), containerPath);
}

function translate(pairs: [from: string, to: string][], path: string): string | undefined {
  let best: [string, string] | undefined;
  for (const pair of pairs) {
    if (inside(pair[0], path) && (!best || pair[0].length > best[0].length)) best = pair;
  }
  return best && best[1] + path.slice(best[0].length);
}

/** Whether `path` is `dir` or below it (plain string paths, no `..`). */
function inside(dir: string, path: string): boolean {
  return path === dir || path.startsWith(dir.endsWith("/") ? dir : `${dir}/`);
}

function parent(path: string): string {
  const cut = path.lastIndexOf("/");
  return cut <= 0 ? "/" : path.slice(0, cut);
}

function absolute(env: Env, name: string): string {
  const value = env[name];
  if (!value) {
    throw new LayoutError(
      name,
      `${name} is not set: the runner sets it for every hook call. Run kubehook through the runner ` +
        "(ACTIONS_RUNNER_CONTAINER_HOOKS), or set it when calling it by hand.",
    );
  }
  if (!value.startsWith("/") || value.split("/").includes("..")) {
    throw new LayoutError(name, `${name}=${value} must be an absolute path without "..".`);
  }
  // Trailing slashes would break prefix matching; "/a/b/" and "/a/b" are the same directory.
  return value.length > 1 ? value.replace(/\/+$/, "") : value;
}
