/**
 * prepare_job: creates the job pod (job container and services), waits for it to run, brings the
 * runner's `<work>` into it and tells the runner what it needs for the later hooks.
 *
 * Whatever fails after the first object was created, the objects are removed again before the hook
 * exits: a failed prepare_job leaves no pod and no secret behind.
 *
 * @module
 */
import { podsPath, secretsPath } from "../kube/paths.ts";
import { waitForPodRunning } from "../kube/watch_pod.ts";
import { planJobObjects, workspacePathOf } from "../pod/job_plan.ts";
import { servicePorts } from "../pod/ports.ts";
import type { Invocation } from "../runner/input.ts";
import { workLayout } from "../runner/layout.ts";
import { prepareJobResponse, writeResponse } from "../runner/response.ts";
import { addMask, endGroup, group, warning } from "../runner/workflow_commands.ts";
import { connect, findRunnerPod, type HookContext, type JobState } from "./context.ts";
import { deleteJobObjects } from "./job_objects.ts";
import { bringWorkspaceIn } from "./workspace.ts";

type PrepareJob = Invocation & { command: "prepare_job" };

/** Runs prepare_job; resolves with the hook's exit code. */
export async function prepareJob(invocation: PrepareJob, context: HookContext): Promise<number> {
  const { container, services } = invocation.args;
  using connection = await connect(context);
  const { client, namespace, settings } = connection;
  const started = performance.now();
  group("Preparing job pod");
  try {
    const leftovers = await deleteJobObjects(client, namespace, settings.runnerPodName);
    if (leftovers.pods.length + leftovers.secrets.length > 0) {
      console.log(
        `Removed what an earlier job of runner pod "${settings.runnerPodName}" left behind: ` +
          [...leftovers.pods, ...leftovers.secrets].join(", "),
      );
    }
    const runner = await findRunnerPod(connection);
    const layout = workLayout(context.env);
    const plan = await planJobObjects(invocation.args, settings, runner, workspacePathOf(layout));
    plan.warnings.forEach((w) => warning(w));
    const name = plan.pod.metadata!.name!;
    try {
      for (const c of [container, ...services]) if (c?.registry) addMask(c.registry.password);
      for (const { secret } of plan.secrets) {
        await client.create(secretsPath(namespace), secret, context.signal);
      }
      await client.create(podsPath(namespace), plan.pod, context.signal);
      console.log(`Created pod "${name}" in namespace "${namespace}"; waiting for it to run.`);
      await waitForPodRunning(client, {
        namespace,
        name,
        timeoutMs: settings.prepareJobTimeoutSeconds * 1000,
        signal: context.signal,
        onWaiting: (why) => console.log(`Still waiting for pod "${name}": ${why}`),
      });
      const state: JobState = { jobPod: name, namespace, hasJobContainer: container !== null };
      let isAlpine = false;
      if (container) {
        const brought = await bringWorkspaceIn(connection, state, layout, context);
        state.sync = brought.sync;
        isAlpine = brought.isAlpine;
      }
      await writeResponse(
        invocation.responseFile,
        prepareJobResponse({
          state: { ...state },
          container: container ? { id: name } : null,
          services: services.map((service, i) => ({
            id: plan.serviceNames[i],
            ports: servicePorts(service.portMappings, `services[${i}]`),
          })),
          isAlpine,
        }),
      );
      console.log(
        `Job pod "${name}" is ready (${((performance.now() - started) / 1000).toFixed(1)} s).`,
      );
      return 0;
    } catch (error) {
      await deleteJobObjects(client, namespace, settings.runnerPodName, 30_000).catch(() => {});
      throw error;
    }
  } finally {
    endGroup();
  }
}
