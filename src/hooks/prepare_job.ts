/**
 * prepare_job: creates the job pod (job container and services), waits for it to run, brings the
 * runner's `<work>` into it, makes sure the runner's externals are there too, and tells the runner
 * what it needs for the later hooks.
 *
 * Whatever fails after the first object was created, the objects are removed again before the hook
 * exits: a failed prepare_job leaves no pod and no secret behind.
 *
 * @module
 */
import type { V1Namespace } from "@kubernetes/client-node";
import { namespacePath, podsPath, secretsPath } from "../kube/paths.ts";
import { POD_SECURITY_ENFORCE_LABEL, podSecurityFor } from "../pod/pod_security.ts";
import { PodStartError, waitForPodRunning } from "../kube/watch_pod.ts";
import { EXTERNALS_ADVICE, EXTERNALS_CONTAINER } from "../pod/externals.ts";
import { planJobObjects, workspacePathOf } from "../pod/job_plan.ts";
import { reportedPorts } from "../pod/ports.ts";
import type { Invocation } from "../runner/input.ts";
import { workLayout } from "../runner/layout.ts";
import { prepareJobResponse, writeResponse } from "../runner/response.ts";
import { addMask, endGroup, group, warning } from "../runner/workflow_commands.ts";
import {
  connect,
  type Connection,
  findRunnerPod,
  type HookContext,
  type JobState,
} from "./context.ts";
import { deleteJobObjects } from "./job_objects.ts";
import { createWithinQuota } from "./capacity.ts";
import { ServiceUnhealthy, waitForHealthyServices } from "./service_health.ts";
import { readServiceLogs, type ServiceLog, showServiceLogs } from "./service_logs.ts";
import { externalsCopied } from "./externals.ts";
import { bringWorkspaceIn } from "./workspace.ts";

type PrepareJob = Invocation & { command: "prepare_job" };

/** Runs prepare_job; resolves with the hook's exit code. */
export async function prepareJob(invocation: PrepareJob, context: HookContext): Promise<number> {
  const { container, services } = invocation.args;
  using connection = await connect(context);
  const { client, namespace, settings } = connection;
  const started = performance.now();
  let serviceLogs: ServiceLog[] = [];
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
    const podSecurity = await podSecurityLevel(connection);
    if (podSecurity === "restricted") {
      console.log(
        `Pods are made for the Pod Security standard "restricted" (${
          settings.podSecurity === "auto"
            ? `namespace "${namespace}" enforces it`
            : "KUBEHOOK_POD_SECURITY"
        }): non-root (uid ${settings.runAsUser.uid} unless the options or the template choose ` +
          "one), no privilege escalation, no capabilities, the runtime's seccomp profile.",
      );
    }
    const plan = await planJobObjects(
      invocation.args,
      { ...settings, podSecurity },
      runner,
      workspacePathOf(layout),
      {
        env: context.env,
        // `--env-file` names a file on the runner, as docker reads it on the docker host.
        readEnvFile: (path) => Deno.readTextFileSync(path),
      },
    );
    plan.warnings.forEach((w) => warning(w));
    const name = plan.pod.metadata!.name!;
    try {
      for (const c of [container, ...services]) if (c?.registry) addMask(c.registry.password);
      const timeoutMs = settings.prepareJobTimeoutSeconds * 1000;
      const quota = (what: string) => ({
        namespace,
        what,
        deadline: Date.now() + timeoutMs - (performance.now() - started),
        signal: context.signal,
        log: (line: string) => console.log(line),
      });
      for (const { secret } of plan.secrets) {
        const secretName = secret.metadata!.name!;
        await createWithinQuota(
          client,
          secretsPath(namespace),
          secret,
          quota(`secret "${secretName}"`),
        );
      }
      await createWithinQuota(
        client,
        podsPath(namespace),
        plan.pod,
        quota(`the job pod "${name}"`),
      );
      console.log(`Created pod "${name}" in namespace "${namespace}"; waiting for it to run.`);
      const running = await waitForPodRunning(client, {
        namespace,
        name,
        timeoutMs: Math.max(0, timeoutMs - (performance.now() - started)),
        signal: context.signal,
        onWaiting: (why) => console.log(`Still waiting for pod "${name}": ${why}`),
        // Started last, it may miss the kubelet's look that sees the others run (a second on a
        // real node); externalsCopied waits for its copy, and its failure fails the wait here too.
        notWaitedFor: [EXTERNALS_CONTAINER],
        advice: EXTERNALS_ADVICE,
      });
      if (plan.serviceNames.length > 0) {
        console.log(
          `Services are reachable from the job container, container steps and each other by ` +
            `name and on localhost: ${plan.serviceNames.join(", ")}.`,
        );
      }
      const state: JobState = {
        jobPod: name,
        namespace,
        hasJobContainer: container !== null,
        services: plan.serviceNames,
        ...(podSecurity === "restricted" ? { podSecurity } : {}),
      };
      // The workspace goes in while the runner's externals are copied beside the job container
      // (pod/externals.ts) and the services become healthy: none waits for another, and the first
      // that fails stops the others.
      const stop = new AbortController();
      const signal = AbortSignal.any([context.signal, stop.signal]);
      const [brought] = await settleTogether(stop, [
        container ? bringWorkspaceIn(connection, state, layout, { ...context, signal }) : undefined,
        container
          ? externalsCopied(connection, state, { deadline: started + timeoutMs, signal })
          : undefined,
        waitForHealthyServices(client, running, {
          namespace,
          name,
          timeoutMs: Math.max(0, timeoutMs - (performance.now() - started)),
          signal,
          log: (line) => console.log(line),
        }),
      ]);
      state.sync = brought?.sync;
      const isAlpine = brought?.isAlpine ?? false;
      await writeResponse(
        invocation.responseFile,
        prepareJobResponse({
          state: { ...state },
          container: container ? { id: name } : null,
          services: plan.serviceNames.map((id) => ({
            id,
            ports: reportedPorts(plan.pod.spec!.containers.find((c) => c.name === id)?.ports ?? []),
          })),
          isAlpine,
        }),
      );
      console.log(
        `Job pod "${name}" is ready (${((performance.now() - started) / 1000).toFixed(1)} s).`,
      );
      return 0;
    } catch (error) {
      const service = failedService(error, plan.serviceNames);
      // Read before the pod goes; shown after this group (the runner's groups do not nest).
      if (service) serviceLogs = await readServiceLogs(client, { namespace, pod: name }, [service]);
      await deleteJobObjects(client, namespace, settings.runnerPodName, 30_000).catch(() => {});
      throw error;
    }
  } finally {
    endGroup();
    showServiceLogs(serviceLogs);
  }
}

/** The standard the pods are made for; `auto` reads the namespace's label where the credentials
 * may (they need not: then baseline, and the API server's refusal says what to set). */
async function podSecurityLevel(connection: Connection): Promise<"baseline" | "restricted"> {
  const { settings, client, namespace } = connection;
  if (settings.podSecurity !== "auto") return settings.podSecurity;
  const ns = await client.get<V1Namespace>(namespacePath(namespace)).catch(() => undefined);
  return podSecurityFor("auto", ns?.metadata?.labels?.[POD_SECURITY_ENFORCE_LABEL]);
}

/** The service a failure is about, when it is about one. */
function failedService(error: unknown, services: readonly string[]): string | undefined {
  const about = error instanceof ServiceUnhealthy
    ? error.service
    : error instanceof PodStartError && error.verdict.state === "failed"
    ? error.verdict.container
    : undefined;
  return about && services.includes(about) ? about : undefined;
}

/** Awaits all of `work`; when one fails, aborts `stop` (which the others watch), lets them end and
 * throws the first failure. */
async function settleTogether<T extends readonly unknown[]>(
  stop: AbortController,
  work: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const failed = (error: unknown) => {
    stop.abort(error);
    throw error;
  };
  const settled = await Promise.allSettled(
    work.map((w) => Promise.resolve(w).catch(failed)),
  );
  const first = settled.find((s) => s.status === "rejected");
  if (first) throw stop.signal.reason ?? (first as PromiseRejectedResult).reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}
