/**
 * Readiness probes, as kubelet's prober runs them: nothing before `initialDelaySeconds`, then one
 * probe every `periodSeconds`, each killed after `timeoutSeconds`; the container turns ready after
 * `successThreshold` consecutive successes and unready again after `failureThreshold` consecutive
 * failures. Every failed probe is a Warning event `Unhealthy` "Readiness probe failed: <output>"
 * about the container (the store counts repeats, as the event recorder does), whose output is the
 * command's stdout and stderr together, capped at 10 KiB. Only `exec` probes run here: a container
 * whose probe is `httpGet`, `tcpSocket` or `grpc` counts as ready once it runs.
 *
 * @module
 */
import type { V1Probe } from "@kubernetes/client-node";
import { concat } from "../../../src/bytes.ts";
import { RuntimeError } from "../contract.ts";
import type { ActiveRun, ContainerSlot } from "./container_run.ts";
import { execInContainer } from "./exec.ts";
import { type PodContext, sleep } from "./pod_context.ts";

/** kubelet keeps this much of a probe's output. */
const MAX_OUTPUT = 10 * 1024;

/** Probes `slot`'s current run until it exits or the pod stops, keeping `record.ready` true
 * exactly while the probe says so. */
export async function probeReadiness(
  context: PodContext,
  slot: ContainerSlot,
  run: ActiveRun,
): Promise<void> {
  const probe = slot.spec.readinessProbe;
  if (!probe) return;
  if (!probe.exec?.command?.length) {
    slot.record.ready = true;
    return context.publish();
  }
  const ended = new AbortController();
  run.handle.exitCode.finally(() => ended.abort());
  const signal = AbortSignal.any([context.signal, ended.signal]);
  const seconds = (value: number | undefined, fallback: number) =>
    Math.max(value ?? fallback, 0) * 1000;
  if (!await sleep(seconds(probe.initialDelaySeconds, 0), signal)) return;
  let successes = 0, failures = 0;
  do {
    const failed = await execProbe(context, run, probe, signal);
    if (signal.aborted) return;
    if (failed === undefined) {
      failures = 0;
      successes++;
      if (!slot.record.ready && successes >= (probe.successThreshold ?? 1)) {
        slot.record.ready = true;
        context.publish();
      }
    } else {
      successes = 0;
      failures++;
      context.event("Warning", "Unhealthy", `Readiness probe failed: ${failed}`, slot.spec.name);
      if (slot.record.ready && failures >= (probe.failureThreshold ?? 3)) {
        slot.record.ready = false;
        context.publish();
      }
    }
  } while (await sleep(seconds(probe.periodSeconds, 10), signal));
}

/** Runs the probe's command once: undefined when it exits 0, else what kubelet reports. */
async function execProbe(
  context: PodContext,
  run: ActiveRun,
  probe: V1Probe,
  signal: AbortSignal,
): Promise<string | undefined> {
  const command = probe.exec!.command!;
  let process;
  try {
    const { namespace = "default", name = "" } = context.pod.metadata ?? {};
    process = execInContainer(context.tools, run, {
      namespace,
      pod: name,
      command,
      stdin: false,
      tty: true,
    });
  } catch (error) {
    // kubelet reports the runtime's own words, without the API server's preamble.
    if (error instanceof RuntimeError) return error.message.replace(/^.*?(?=OCI runtime)/, "");
    throw error;
  }
  const timeout = Math.max(probe.timeoutSeconds ?? 1, 1);
  const timedOut = AbortSignal.timeout(timeout * 1000);
  const stop = () => process.kill("SIGKILL");
  const abort = AbortSignal.any([timedOut, signal]);
  abort.addEventListener("abort", stop, { once: true });
  const chunks: Uint8Array[] = [];
  let kept = 0;
  for await (const chunk of process.stdout) {
    const room = MAX_OUTPUT - kept;
    if (room > 0) chunks.push(chunk.subarray(0, room));
    kept += Math.min(room, chunk.length);
  }
  const code = await process.exitCode;
  abort.removeEventListener("abort", stop);
  if (timedOut.aborted) {
    return `command timed out: "${command.join(" ")}" timed out after ${timeout}s`;
  }
  if (code === 0) return undefined;
  return new TextDecoder().decode(concat(chunks));
}
