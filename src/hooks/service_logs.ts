/**
 * Service logs in the job log, as docker mode prints them when it stops a job's containers: the
 * last lines of each service container, in a `::group::Service <name> logs`, at cleanup_job and
 * when prepare_job fails because of a service. A service's output is the service's, not the
 * workflow's: it is shown between `::stop-commands::` markers, so a line that looks like a
 * workflow command (`::add-mask::`, `::error::`) is printed, never acted on. Bounded in lines and
 * bytes; a courtesy that never fails the hook.
 *
 * @module
 */
import type { KubeClient } from "../kube/client.ts";
import { podSubresourcePath } from "../kube/paths.ts";
import { endGroup, group } from "../runner/workflow_commands.ts";

/** The last lines of a service's log shown (docker mode shows them all; a runner log is read by
 * people). */
export const SERVICE_LOG_LINES = 200;
/** And at most this much of them: a line may be long. */
const SERVICE_LOG_BYTES = 64 * 1024;

/** A service's log as read from its container. */
export interface ServiceLog {
  service: string;
  text: string;
}

/** Reads the logs of `services` (containers of `pod`); one that cannot be read says why. */
export async function readServiceLogs(
  client: KubeClient,
  target: { namespace: string; pod: string },
  services: readonly string[],
): Promise<ServiceLog[]> {
  return await Promise.all(services.map(async (service) => {
    try {
      const text = await client.getText(
        podSubresourcePath(target.namespace, target.pod, "log"),
        {
          query: {
            container: service,
            tailLines: SERVICE_LOG_LINES,
            limitBytes: SERVICE_LOG_BYTES,
          },
        },
      );
      return { service, text };
    } catch (error) {
      return {
        service,
        text: `(kubehook could not read the log: ${
          error instanceof Error ? error.message : error
        })`,
      };
    }
  }));
}

/** Prints each log in its own group, its lines inert. */
export function showServiceLogs(logs: readonly ServiceLog[]): void {
  for (const { service, text } of logs) {
    const token = crypto.randomUUID().replaceAll("-", "");
    group(`Service ${service} logs`);
    console.log(`::stop-commands::${token}`);
    console.log(text.replace(/\n$/, "") || "(no output)");
    console.log(`::${token}::`);
    endGroup();
  }
}
