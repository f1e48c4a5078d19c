/**
 * A container step in a pod of its own (pod/step_pod.ts): the whole `<work>` is streamed into its
 * init container, the action runs, what it changed comes back to the runner and, when the job has
 * a job container, from there into the job pod, so the next step sees it. The pod and its secrets
 * are deleted before the hook exits, also on failure and cancellation.
 *
 * @module
 */
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import { podsPath, secretsPath } from "../kube/paths.ts";
import { watchPod } from "../kube/watch_pod.ts";
import type { ContainerStepPlan } from "../pod/container_step_plan.ts";
import { JOB_CONTAINER_NAME, randomSuffix } from "../pod/names.ts";
import {
  type JobServices,
  STEP_CONTAINER,
  STEP_HELPER_CONTAINER,
  STEP_INIT_CONTAINER,
} from "../pod/step_pod.ts";
import type { WorkLayout } from "../runner/layout.ts";
import { followAction } from "./action_run.ts";
import type { Connection, HookContext, JobState } from "./context.ts";
import { copyWorkChangesBack, copyWorkInto, pushRunnerChanges } from "./workspace.ts";
import { writeFully } from "../bytes.ts";

/** The step and what it needs. */
export interface PodStep {
  connection: Connection;
  context: HookContext;
  layout: WorkLayout;
  plan: ContainerStepPlan;
  /** The job's state when it has a job pod with a job container (it then gets the changes). */
  state?: JobState;
  /** The job pod, when there is one (its services are forwarded to the step). */
  jobPod?: string;
}

/** Runs the step; resolves with its exit code. */
export async function runPodStep(run: PodStep): Promise<number> {
  const { connection, context, plan } = run;
  const { client, namespace, settings } = connection;
  const { pod, registrySecret } = plan.ownPod(
    run.jobPod ? await jobServices(connection, run.jobPod) : undefined,
  );
  const name = pod.metadata!.name!;
  const image = pod.spec!.containers[0].image ?? "";
  const secrets = [plan.envSecret, ...(registrySecret ? [registrySecret] : [])];
  const copying = settings.workspace === "copy";
  const where = (container: string) => ({ namespace, pod: name, container });
  try {
    for (const secret of secrets) {
      await client.create(secretsPath(namespace), secret, context.signal);
    }
    await client.create(podsPath(namespace), pod, context.signal);
    console.log(`Created pod "${name}" for the step's container (image "${image}").`);
    const mark = copying ? await bringWorkspace(run, name) : undefined;
    let code: number;
    try {
      code = await followAction({
        client,
        namespace,
        pod: name,
        container: STEP_CONTAINER,
        image,
        statusOf: (p) => statusOf(p, STEP_CONTAINER),
        startTimeoutMs: settings.prepareJobTimeoutSeconds * 1000,
        signal: context.signal,
        output: (bytes) => writeFully(Deno.stdout, bytes),
        log: (line) => console.error(line),
      });
    } catch (error) {
      if (!context.signal.aborted) throw error;
      console.error(`kubehook: cancelling the step: deleting pod "${name}".`);
      code = 130;
    }
    if (mark) {
      await waitForHelper(run, name);
      await copyWorkChangesBack(connection, where(STEP_HELPER_CONTAINER), run.layout, mark);
      if (run.state) await pushRunnerChanges(connection, run.state, run.layout, randomSuffix(8));
    }
    return code;
  } finally {
    await Promise.all([
      client.delete(podsPath(namespace, name), { gracePeriodSeconds: 0 }).catch(() => {}),
      ...secrets.map((s) =>
        client.delete(secretsPath(namespace, s.metadata!.name!)).catch(() => {})
      ),
    ]);
  }
}

/** Where the job pod's services listen (its IP, their TCP ports), or undefined when it has none
 * or no IP. */
async function jobServices(connection: Connection, name: string): Promise<JobServices | undefined> {
  const pod = await connection.client.get<V1Pod>(podsPath(connection.namespace, name));
  const services = (pod.spec?.containers ?? []).filter((c) => c.name !== JOB_CONTAINER_NAME);
  const ports = services
    .flatMap((c) => c.ports ?? [])
    .filter((p) => (p.protocol ?? "TCP") === "TCP")
    .map((p) => p.containerPort);
  const podIP = pod.status?.podIP;
  return podIP && ports.length > 0
    ? { podIP, ports: [...new Set(ports)], names: services.map((c) => c.name) }
    : undefined;
}

/** Waits for the init container to run, streams `<work>` into it and lets the step start;
 * resolves with the change marker. */
async function bringWorkspace(run: PodStep, pod: string): Promise<string> {
  const { connection, context } = run;
  const { namespace } = connection;
  await watchPod(connection.client, { namespace, name: pod, signal: context.signal }, (p) => {
    if (p === null) throw new Error(`The step's pod ${namespace}/${pod} was deleted.`);
    const init = p.status?.initContainerStatuses?.find((s) => s.name === STEP_INIT_CONTAINER);
    if (init?.state?.running) return true;
    const waiting = init?.state?.waiting;
    if (waiting?.reason && /ErrImage|ImagePull|InvalidImage|CreateContainer/.test(waiting.reason)) {
      throw new Error(
        `The step pod's init container "${STEP_INIT_CONTAINER}" (ACTIONS_RUNNER_IMAGE ` +
          `"${connection.settings.runnerImage}") cannot start: ${waiting.reason}: ` +
          `${waiting.message ?? ""}. Point ACTIONS_RUNNER_IMAGE at the runner image you run.`,
      );
    }
    return undefined;
  });
  const target = { namespace, pod, container: STEP_INIT_CONTAINER };
  return await copyWorkInto(connection, target, run.layout, context.signal);
}

/** The helper starts beside the action: a quick action may end before it runs. */
async function waitForHelper(run: PodStep, pod: string): Promise<void> {
  const { namespace } = run.connection;
  await watchPod(run.connection.client, { namespace, name: pod }, (p) => {
    const state = p && statusOf(p, STEP_HELPER_CONTAINER)?.state;
    if (state?.running) return true;
    if (!p || state?.terminated) {
      throw new Error(
        `The step pod's container "${STEP_HELPER_CONTAINER}" (ACTIONS_RUNNER_IMAGE) is not ` +
          `running, so the step's changes cannot come back from pod ${namespace}/${pod}.`,
      );
    }
    return undefined;
  });
}

function statusOf(pod: V1Pod, name: string): V1ContainerStatus | undefined {
  return pod.status?.containerStatuses?.find((s) => s.name === name);
}
