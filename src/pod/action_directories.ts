/**
 * The directories of `<work>` that container actions see under `/github` (protocol §4), each in
 * a volume of its own in the job pod. The job container mounts them inside `/__w`, where the
 * runner's layout puts them; an action container mounts the same volumes at its `/github/*`
 * paths. A volume of its own, not a subPath of the work volume, because ephemeral containers may
 * not mount subPaths: this way an action runs in the job pod itself and sees the job container's
 * files, services and network without a copy.
 *
 * @example
 * ```ts
 * const dirs = actionDirectories("repo/repo");
 * dirs.find((d) => d.action === "/github/workspace")?.work; // "repo/repo"
 * ```
 * @module
 */
import type { V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import {
  CONTAINER_GITHUB_HOME,
  CONTAINER_GITHUB_WORKFLOW,
  CONTAINER_WORK,
} from "../runner/layout.ts";

/** A directory shared by the job container and container actions. */
export interface ActionDirectory {
  /** Its volume in the job pod. */
  volume: string;
  /** Its path relative to `<work>` (and to the job container's `/__w`). */
  work: string;
  /** Where container actions see it. */
  action: string;
  /** Where the job container also sees it, besides `/__w/<work>`. */
  jobAlias?: string;
}

/** The shared directories, parents before children; `workspacePath` is GITHUB_WORKSPACE relative
 * to `<work>` (`<repo>/<repo>`). */
export function actionDirectories(workspacePath: string): ActionDirectory[] {
  return [
    { volume: "runner-temp", work: "_temp", action: "/github/runner_temp" },
    {
      volume: "github-home",
      work: "_temp/_github_home",
      action: CONTAINER_GITHUB_HOME,
      jobAlias: CONTAINER_GITHUB_HOME,
    },
    {
      volume: "github-workflow",
      work: "_temp/_github_workflow",
      action: CONTAINER_GITHUB_WORKFLOW,
      jobAlias: CONTAINER_GITHUB_WORKFLOW,
    },
    {
      volume: "file-commands",
      work: "_temp/_runner_file_commands",
      action: "/github/file_commands",
    },
    { volume: "github-workspace", work: workspacePath, action: "/github/workspace" },
  ];
}

/** One emptyDir per shared directory. */
export function actionVolumes(workspacePath: string): V1Volume[] {
  return actionDirectories(workspacePath).map((d) => ({ name: d.volume, emptyDir: {} }));
}

/** The job container's mounts of the shared directories: at `/__w/<work>` and at its alias. */
export function jobActionMounts(workspacePath: string): V1VolumeMount[] {
  return actionDirectories(workspacePath).flatMap((d) => [
    { name: d.volume, mountPath: `${CONTAINER_WORK}/${d.work}` },
    ...(d.jobAlias ? [{ name: d.volume, mountPath: d.jobAlias }] : []),
  ]);
}

/** An action container's mounts: each directory at its `/github/*` path, and again wherever an
 * enclosing shared directory puts it (`/github/runner_temp/_github_home`), as in docker mode. */
export function actionMounts(workspacePath: string): V1VolumeMount[] {
  const dirs = actionDirectories(workspacePath);
  return dirs.flatMap((d) => [
    { name: d.volume, mountPath: d.action },
    ...dirs.filter((outer) => d.work.startsWith(`${outer.work}/`)).map((outer) => ({
      name: d.volume,
      mountPath: `${outer.action}${d.work.slice(outer.work.length)}`,
    })),
  ]);
}

/** The directories under `<work>` that the container runtime creates (as root) for the job
 * container's mounts: each shared directory and its parents. The workspace copy must not try to
 * set their mode or times (a non-root container user may not). */
export function runtimeCreatedWorkDirs(workspacePath: string): string[] {
  return [
    ...new Set(
      actionDirectories(workspacePath).flatMap((d) =>
        d.work.split("/").map((_, i, parts) => parts.slice(0, i + 1).join("/"))
      ),
    ),
  ];
}
