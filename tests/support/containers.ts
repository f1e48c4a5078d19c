/**
 * Container descriptions exactly as the runner sends them in hook arguments (protocol §2): every
 * field present, nulls included. Tests start from these and override what they exercise.
 *
 * @example
 * ```ts
 * await sim.prepareJob({ container: jobContainer("node:20"), services: [serviceContainer("redis:7", { portMappings: ["6379"] })] });
 * ```
 * @module
 */
import { type Container, containerOf } from "../../src/runner/input.ts";

/** A job container as the runner describes it (every field, nulls included). */
export function jobContainer(image: string, over: Partial<Container> = {}): Container {
  return containerOf(image, {
    workingDirectory: "/__w/repo/repo",
    environmentVariables: { HOME: "/github/home" },
    ...over,
  });
}

/** A service container as the runner describes it. */
export function serviceContainer(image: string, over: Partial<Container> = {}): Container {
  return jobContainer(image, { workingDirectory: null, environmentVariables: {}, ...over });
}

/** Container-step arguments as the runner sends them: each wrapped in double quotes (inner quotes
 * escaped), the whole line split on spaces. */
export function runnerArgs(args: string[]): string[] {
  return args.map((a) => `"${a.replaceAll('"', '\\"')}"`).join(" ").split(" ").filter((a) => a);
}
