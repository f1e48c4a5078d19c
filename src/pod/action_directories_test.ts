import assert from "node:assert/strict";
import { actionMounts, jobActionMounts, runtimeCreatedWorkDirs } from "./action_directories.ts";

Deno.test("an action container sees each shared directory at its /github path, nested ones twice", () => {
  assert.deepEqual(actionMounts("octo/octo"), [
    { name: "runner-temp", mountPath: "/github/runner_temp" },
    { name: "github-home", mountPath: "/github/home" },
    { name: "github-home", mountPath: "/github/runner_temp/_github_home" },
    { name: "github-workflow", mountPath: "/github/workflow" },
    { name: "github-workflow", mountPath: "/github/runner_temp/_github_workflow" },
    { name: "file-commands", mountPath: "/github/file_commands" },
    { name: "file-commands", mountPath: "/github/runner_temp/_runner_file_commands" },
    { name: "github-workspace", mountPath: "/github/workspace" },
  ]);
});

Deno.test("the job container sees them where the runner's layout puts them", () => {
  const mounts = jobActionMounts("octo/octo").map((m) => `${m.name}:${m.mountPath}`);
  assert.ok(mounts.includes("github-workspace:/__w/octo/octo"));
  assert.ok(mounts.includes("github-home:/github/home"));
  assert.deepEqual(runtimeCreatedWorkDirs("octo/octo"), [
    "_temp",
    "_temp/_github_home",
    "_temp/_github_workflow",
    "_temp/_runner_file_commands",
    "octo",
    "octo/octo",
  ]);
});
