/**
 * run_script_step: runs one `run:` step (or a JavaScript action) in the job container.
 *
 * Two exec sessions in the normal case: the first carries what changed under `<work>` plus the
 * step's environment into the pod, starts the step detached and streams its output; the second
 * brings the file-command files and the step's changes back to the host. The second is opened as
 * soon as the first is and waits in the pod for the step's end (kube/armed_exec.ts), so its
 * set-up is not on the way. The hook exits with the step's own exit code.
 *
 * @module
 */
import { stepArgv } from "../runner/command_line.ts";
import type { Invocation } from "../runner/input.ts";
import { workLayout } from "../runner/layout.ts";
import { type StateResponse, writeResponse } from "../runner/response.ts";
import { warning } from "../runner/workflow_commands.ts";
import { connect, type HookContext, jobState } from "./context.ts";
import { runDetachedStep } from "./detached_step.ts";
import { stepEnvironment } from "./step_environment.ts";
import { armStepChangesBack, bringStepChangesBack, stepUpload } from "./workspace.ts";
import type { ArmedExec } from "../kube/armed_exec.ts";
import { JOB_CONTAINER_NAME } from "../pod/names.ts";
import { writeFully } from "../bytes.ts";

type RunScriptStep = Invocation & { command: "run_script_step" };

/** Runs the step; resolves with its exit code (the hook's exit code). */
export async function runScriptStep(
  invocation: RunScriptStep,
  context: HookContext,
): Promise<number> {
  const state = jobState(invocation.state, "run_script_step");
  if (!state.hasJobContainer) {
    throw new Error(
      "run_script_step needs a job container, and this job has none (only services). Give the job a " +
        "`container:` or set ACTIONS_RUNNER_REQUIRE_JOB_CONTAINER=true on the runner.",
    );
  }
  using connection = await connect(context);
  const { client, settings } = connection;
  const args = invocation.args;
  const layout = workLayout(context.env);
  const id = crypto.randomUUID();
  const environment = stepEnvironment(args.environmentVariables, args.prependPath);
  for (const name of environment.skipped) {
    warning(
      `The variable "${name}" is not a valid shell name, so the step cannot see it. Rename it.`,
    );
  }
  const upload = await stepUpload(state, layout, id, environment.text);
  const encoder = new TextEncoder();
  let code = 1;
  let failure: unknown;
  // The copy back's exec is opened while the step runs, so it starts the moment the step ends.
  let armed: ArmedExec | undefined;
  try {
    code = await runDetachedStep({
      client,
      namespace: state.namespace,
      pod: state.jobPod,
      container: JOB_CONTAINER_NAME,
      id,
      workingDirectory: args.workingDirectory,
      argv: stepArgv(args.entryPoint, args.entryPointArgs),
      extractScript: upload.extractScript,
      upload: upload.stream,
      heartbeatMs: settings.heartbeatPeriodMs,
      deadlineMs: settings.heartbeatDeadlineMs,
      signal: context.signal,
      output: (chunk) => writeFully(Deno.stdout, chunk),
      log: (line) => Deno.stderr.writeSync(encoder.encode(line + "\n")),
      onOpened: () => armed ??= armStepChangesBack(connection, state, layout, id),
    });
  } catch (error) {
    failure = error;
  }
  // File commands must reach the host also when the step failed or was cancelled.
  try {
    await upload.dispose();
    state.sync = await bringStepChangesBack(connection, state, layout, id, armed?.exec);
  } catch (error) {
    // When the step itself could not run, that is the news; this failure follows from it.
    if (failure === undefined) failure = error;
    else warning(`kubehook could not bring the step's files back: ${(error as Error).message}`);
  } finally {
    armed?.[Symbol.dispose]();
  }
  const response: StateResponse = { state: { ...state } };
  await writeResponse(invocation.responseFile, response);
  if (failure !== undefined) throw failure;
  return code;
}
