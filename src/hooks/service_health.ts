/**
 * Healthy services before the first step, as docker mode waits for them: once the job pod runs,
 * prepare_job waits until every service with a health check (a readiness probe, from
 * `--health-cmd` or the pod template) is Ready. It says which services it waits for, each one
 * that becomes healthy, and what the still failing checks last printed; a service that stays
 * unhealthy for as long as docker would give it (start period, then every try with its timeout)
 * fails the job with the service's name and its check's last output, as does one that exits.
 *
 * @module
 */
import type { V1Pod, V1Probe } from "@kubernetes/client-node";
import type { KubeClient } from "../kube/client.ts";
import { classifyPod } from "../kube/pod_status.ts";
import { latestEvent, podStartError, watchPod } from "../kube/watch_pod.ts";

/** What to wait for. */
export interface HealthWait {
  namespace: string;
  /** The job pod, running. */
  name: string;
  /** The longest kubehook may wait (what is left of the prepare timeout). */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Where progress goes (the job log). */
  log: (line: string) => void;
  /** How often a still unhealthy service's state is shown. */
  reportEveryMs?: number;
}

/** A service never became healthy. */
export class ServiceUnhealthy extends Error {
  /** The service at fault, when one is. */
  readonly service?: string;
  constructor(message: string, service?: string) {
    super(message);
    this.name = "ServiceUnhealthy";
    this.service = service;
  }
}

/** Longest probe output kubehook repeats (it comes from the service's image). */
const MAX_OUTPUT = 1000;

/** Resolves once every probed service of `pod` (its containers but `job`) is Ready. */
export async function waitForHealthyServices(
  client: KubeClient,
  pod: V1Pod,
  options: HealthWait,
): Promise<void> {
  const { namespace, name, log } = options;
  const started = Date.now();
  const pending = new Map<string, { probe: V1Probe; deadline: number }>();
  for (const container of pod.spec?.containers ?? []) {
    if (container.name === "job" || !container.readinessProbe) continue;
    pending.set(container.name, {
      probe: container.readinessProbe,
      deadline: started + Math.min(patienceMs(container.readinessProbe), options.timeoutMs),
    });
  }
  if (pending.size === 0) return;
  log(
    `Waiting for ${plural(pending.size, "service")} to be healthy: ${
      [...pending].map(([service, { probe }]) => `${service} (${describeProbe(probe)})`).join(", ")
    }.`,
  );
  const reportEveryMs = options.reportEveryMs ?? 10_000;
  let nextReport = started + reportEveryMs;
  let seen = pod;
  const look = (current: V1Pod | null) => {
    if (current === null) {
      throw new ServiceUnhealthy(
        `Job pod "${name}" in namespace "${namespace}" was deleted while kubehook waited for ` +
          "its services to be healthy. Something else removed it; run the job again.",
      );
    }
    seen = current;
    for (const status of current.status?.containerStatuses ?? []) {
      if (status.ready && pending.delete(status.name)) {
        log(`Service ${status.name} is healthy (${seconds(Date.now() - started)}).`);
      }
    }
    const verdict = classifyPod(current);
    if (verdict.state === "failed") return verdict;
    return pending.size === 0 ? verdict : undefined;
  };
  while (pending.size > 0) {
    const wake = Math.min(nextReport, ...[...pending.values()].map((p) => p.deadline));
    const timer = AbortSignal.timeout(Math.max(0, wake - Date.now()));
    const signal = options.signal ? AbortSignal.any([options.signal, timer]) : timer;
    try {
      const verdict = await watchPod(client, { namespace, name, signal }, look);
      if (verdict.state === "failed") {
        throw await podStartError(client, { namespace, name }, seen, verdict);
      }
    } catch (error) {
      if (!timer.aborted || options.signal?.aborted) throw error;
    }
    const now = Date.now();
    for (const [service, { probe, deadline }] of pending) {
      if (deadline > now) continue;
      const said = await lastProbeOutput(client, namespace, name, service);
      throw new ServiceUnhealthy(
        `Service ${service} did not become healthy within ${seconds(now - started)} ` +
          `(health check ${describeProbe(probe)}) in pod "${name}" of namespace "${namespace}"` +
          (said ? `; its last check said: ${said}` : "; its check has not reported a failure") +
          ". Fix the service or its health check (--health-cmd), or give it more time " +
          "(--health-start-period, --health-retries).",
        service,
      );
    }
    if (now >= nextReport) {
      nextReport = now + reportEveryMs;
      for (const service of pending.keys()) {
        const said = await lastProbeOutput(client, namespace, name, service);
        log(`Service ${service} is not healthy yet${said ? `: ${said}` : "."}`);
      }
    }
  }
}

/** How long docker gives a container before it calls it unhealthy: the start period, then every
 * try with its timeout; one more period for the first try's place in the schedule. */
export function patienceMs(probe: V1Probe): number {
  const period = probe.periodSeconds ?? 10;
  const timeout = probe.timeoutSeconds ?? 1;
  const tries = probe.failureThreshold ?? 3;
  return ((probe.initialDelaySeconds ?? 0) + tries * (period + timeout) + period) * 1000;
}

function describeProbe(probe: V1Probe): string {
  const command = probe.exec?.command ?? [];
  // `--health-cmd X` arrives as sh -c X: show X as the workflow wrote it.
  const what = command.length === 3 && command[1] === "-c"
    ? command[2]
    : command.length > 0
    ? command.join(" ")
    : probe.httpGet
    ? `GET :${probe.httpGet.port}${probe.httpGet.path ?? "/"}`
    : probe.tcpSocket
    ? `connect :${probe.tcpSocket.port}`
    : "a probe";
  return `${JSON.stringify(bounded(what))}, every ${probe.periodSeconds ?? 10} s, ` +
    `${plural(probe.failureThreshold ?? 3, "try", "tries")}`;
}

/** The newest failing check's output for `service`, from the kubelet's Unhealthy events, on one
 * line and bounded; undefined when there is none. */
async function lastProbeOutput(
  client: KubeClient,
  namespace: string,
  pod: string,
  service: string,
): Promise<string | undefined> {
  const newest = await latestEvent(
    client,
    namespace,
    pod,
    (e) =>
      e.reason === "Unhealthy" && e.involvedObject?.fieldPath === `spec.containers{${service}}`,
  );
  return newest?.message ? JSON.stringify(bounded(newest.message.trim())) : undefined;
}

/** One line of at most {@link MAX_OUTPUT} characters, without control characters. */
function bounded(text: string): string {
  // deno-lint-ignore no-control-regex
  const line = text.replace(/[\x00-\x1f\x7f]+/g, " ");
  return line.length > MAX_OUTPUT ? `${line.slice(0, MAX_OUTPUT)}…` : line;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
