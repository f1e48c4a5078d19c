import assert from "node:assert/strict";
import {
  containerActionMappings,
  jobContainerMappings,
  LayoutError,
  toContainerPath,
  toHostPath,
  workLayout,
} from "./layout.ts";

const env = {
  RUNNER_WORKSPACE: "/home/runner/_work/repo",
  GITHUB_WORKSPACE: "/home/runner/_work/repo/repo/",
  RUNNER_TEMP: "/home/runner/_work/_temp",
};

Deno.test("the host layout follows the runner's variables", () => {
  const l = workLayout(env);
  assert.equal(l.work, "/home/runner/_work");
  assert.equal(l.workspace, "/home/runner/_work/repo/repo");
  assert.equal(l.githubHome, "/home/runner/_work/_temp/_github_home");
  assert.equal(l.fileCommands, "/home/runner/_work/_temp/_runner_file_commands");
  assert.equal(l.tool, "/home/runner/_work/_tool");
  assert.equal(l.externals, "/home/runner/externals");
  assert.equal(workLayout({ ...env, RUNNER_TEMP: undefined }).temp, "/home/runner/_work/_temp");
});

Deno.test("job container paths: /__w, /__e, /github/home, /github/workflow, /__t", () => {
  const l = workLayout({ ...env, RUNNER_TOOL_CACHE: "/opt/hostedtoolcache" });
  const map = jobContainerMappings(l);
  const cases: [string, string][] = [
    ["/home/runner/_work/repo/repo/src/a.ts", "/__w/repo/repo/src/a.ts"],
    ["/home/runner/_work/_temp/abc.sh", "/__w/_temp/abc.sh"],
    ["/home/runner/_work/_actions/o/r/v1", "/__w/_actions/o/r/v1"],
    ["/home/runner/_work/_temp/_github_home/.npmrc", "/github/home/.npmrc"],
    ["/home/runner/_work/_temp/_github_workflow/event.json", "/github/workflow/event.json"],
    ["/home/runner/externals/node20/bin/node", "/__e/node20/bin/node"],
    ["/opt/hostedtoolcache/go", "/__t/go"],
  ];
  for (const [host, container] of cases) {
    assert.equal(toContainerPath(map, host), container, host);
    assert.equal(toHostPath(map, container), host, container);
  }
  assert.equal(
    toHostPath(map, "/__w/_temp/_github_home/x"),
    "/home/runner/_work/_temp/_github_home/x",
  );
  assert.equal(toContainerPath(map, "/etc/passwd"), undefined);
  assert.equal(toContainerPath(map, "/home/runner/_workshop"), undefined);
  assert.equal(jobContainerMappings(workLayout(env)).some((m) => m.container === "/__t"), false);
});

Deno.test("container action paths live under /github", () => {
  const map = containerActionMappings(workLayout(env));
  assert.equal(toContainerPath(map, "/home/runner/_work/repo/repo/x"), "/github/workspace/x");
  assert.equal(toContainerPath(map, "/home/runner/_work/_temp/x.sh"), "/github/runner_temp/x.sh");
  assert.equal(toContainerPath(map, "/home/runner/_work/_temp/_github_home"), "/github/home");
  assert.equal(
    toContainerPath(map, "/home/runner/_work/_temp/_runner_file_commands/set_env_1"),
    "/github/file_commands/set_env_1",
  );
  assert.equal(toContainerPath(map, "/home/runner/_work/_actions/o/r"), undefined);
});

Deno.test("missing or odd variables are named", () => {
  const check = (e: Partial<typeof env>, variable: string, message: RegExp) =>
    assert.throws(() => workLayout(e), (err: unknown) => {
      assert.ok(err instanceof LayoutError);
      assert.equal(err.variable, variable);
      assert.match(err.message, message);
      return true;
    });
  check({ ...env, RUNNER_WORKSPACE: undefined }, "RUNNER_WORKSPACE", /RUNNER_WORKSPACE is not set/);
  check({ ...env, GITHUB_WORKSPACE: "" }, "GITHUB_WORKSPACE", /is not set/);
  check(
    { ...env, GITHUB_WORKSPACE: "/elsewhere/repo" },
    "GITHUB_WORKSPACE",
    /not inside the runner's work directory/,
  );
  check({ ...env, RUNNER_TEMP: "tmp" }, "RUNNER_TEMP", /absolute path/);
});
