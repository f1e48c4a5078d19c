/**
 * run_container_step: container actions (`uses: docker://...` and Dockerfile actions) are not
 * supported yet; the hook says so plainly instead of failing obscurely.
 *
 * @module
 */
import type { Invocation } from "../runner/input.ts";
import type { HookContext } from "./context.ts";

type RunContainerStep = Invocation & { command: "run_container_step" };

/** Fails with a clear message naming the action's image or Dockerfile. */
export function runContainerStep(
  invocation: RunContainerStep,
  _context: HookContext,
): Promise<number> {
  const what = invocation.args.image
    ? `image "${invocation.args.image}"`
    : `Dockerfile ${invocation.args.dockerfile}`;
  return Promise.reject(
    new Error(
      `container steps are not supported by this kubehook version yet (step uses ${what}). ` +
        `Run the tool from a script step in the job container instead, or use a JavaScript action.`,
    ),
  );
}
