/**
 * run_container_step: runs a container action (`uses: docker://image` or an action whose
 * `runs.image` is an image) the way `docker run` would: the image's own entrypoint unless the step
 * replaces it, the step's environment byte-exact, the `/github/*` directories, the job's services
 * on the addresses the job container uses, live output and the container's own exit code.
 *
 * Where it runs: as an ephemeral container of the job pod when the job has a job container and
 * copies its workspace (no copy at all, same network); otherwise — no job container, volume mode,
 * a private image, or a Role without `pods/ephemeralcontainers` — in a pod of its own that gets
 * the workspace streamed in and out. docs/design.md says why. A Dockerfile action's image is
 * built first, unless the registry has it already (build_image.ts), and runs in a pod of its own
 * that pulls it with the build registry's secret.
 *
 * @module
 */
import type { Invocation } from "../runner/input.ts";
import { workLayout } from "../runner/layout.ts";
import { type StateResponse, writeResponse } from "../runner/response.ts";
import { addMask, debug, warning } from "../runner/workflow_commands.ts";
import { planContainerStep } from "../pod/container_step_plan.ts";
import { workspacePathOf } from "../pod/job_plan.ts";
import { connect, findRunnerPod, type HookContext, jobState } from "./context.ts";
import { NOT_PERMITTED, runEphemeralStep } from "./ephemeral_step.ts";
import { runPodStep } from "./pod_step.ts";

type RunContainerStep = Invocation & { command: "run_container_step" };

/** Runs the step; resolves with the container's exit code (the hook's exit code). */
export async function runContainerStep(
  invocation: RunContainerStep,
  context: HookContext,
): Promise<number> {
  const state = invocation.state?.jobPod
    ? jobState(invocation.state, "run_container_step")
    : undefined;
  using connection = await connect(context);
  const { settings } = connection;
  const layout = workLayout(context.env);
  const respond = async (code: number) => {
    const response: StateResponse = state ? { state: { ...state } } : {};
    await writeResponse(invocation.responseFile, response);
    return code;
  };
  let step = invocation.args;
  let pullSecret: string | undefined;
  if (!step.image) {
    const { buildImage } = await import("./build_image.ts");
    const built = await buildImage(
      step.dockerfile!,
      connection,
      context,
      layout,
      state?.podSecurity ?? settings.podSecurity,
    );
    if (!built) return await respond(130);
    step = { ...step, image: built.image };
    pullSecret = built.pullSecret;
  }
  if (step.registry) addMask(step.registry.password);
  const plan = planContainerStep({
    step,
    pullSecret,
    // prepare_job chose the standard for the job; its steps follow it.
    settings: state?.podSecurity ? { ...settings, podSecurity: state.podSecurity } : settings,
    workspacePath: workspacePathOf(layout),
    jobPod: state && { name: state.jobPod, hasJobContainer: state.hasJobContainer },
    runnerNodeName: settings.workspace === "volume"
      ? (await findRunnerPod(connection))?.spec?.nodeName
      : undefined,
    optionsContext: { env: context.env, readEnvFile: (path) => Deno.readTextFileSync(path) },
  });
  plan.warnings.forEach((w) => warning(w));
  let code: number | typeof NOT_PERMITTED = NOT_PERMITTED;
  if (plan.placement === "job-pod" && state) {
    code = await runEphemeralStep({ connection, context, state, layout, plan });
    if (code === NOT_PERMITTED) {
      warning(
        `kubehook may not add ephemeral containers to the job pod (the Role lacks "patch" on ` +
          `"pods/ephemeralcontainers", see examples/rbac.yaml), so this step runs in a pod of its ` +
          "own: its workspace is copied in and out, and the job's services are forwarded to it.",
      );
    }
  } else debug(`The step runs in a pod of its own: ${plan.ownPodReason}.`);
  if (code === NOT_PERMITTED) {
    code = await runPodStep({
      connection,
      context,
      layout,
      plan,
      state: state?.hasJobContainer ? state : undefined,
      jobPod: state?.jobPod,
    });
  }
  return await respond(code);
}
