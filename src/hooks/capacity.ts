/**
 * Waiting for room in a namespace's ResourceQuota: while other jobs use it up, Kubernetes refuses
 * a new pod or secret with 403 "exceeded quota" (it is not queued), so kubehook tries again with
 * back-off, saying which quota and resource hold it up — at once, then every 30 s — until the
 * prepare timeout, and then fails with the last refusal and what to change.
 *
 * @module
 */
import type { KubeClient, Labelled } from "../kube/client.ts";
import { KubeApiError } from "../kube/errors.ts";
import { sleep } from "../kube/retry.ts";

/** How often a wait that goes on is reported. */
export const QUOTA_REPORT_MS = 30_000;
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 10_000;

/** Where and until when to wait. */
export interface QuotaWait {
  namespace: string;
  /** What is created, for people: `the job pod "x"`. */
  what: string;
  /** Epoch milliseconds after which kubehook gives up. */
  deadline: number;
  signal: AbortSignal;
  log: (line: string) => void;
}

/** Whether `error` is the API server refusing a creation for a used-up ResourceQuota. */
export function isQuotaRefusal(error: unknown): error is KubeApiError {
  return error instanceof KubeApiError && error.status === 403 &&
    /exceeded quota/.test(error.serverMessage);
}

/** POSTs `body` to `path`, waiting while a ResourceQuota refuses it, and repeating after an
 * answer that leaves open whether it was made (KubeClient.createNamed). */
export async function createWithinQuota<T extends Labelled>(
  client: KubeClient,
  path: string,
  body: T,
  wait: QuotaWait,
): Promise<T> {
  const started = Date.now();
  let nextReport = started;
  for (let delay = FIRST_RETRY_MS;; delay = Math.min(delay * 2, MAX_RETRY_MS)) {
    try {
      return await client.createNamed(path, body, wait.signal);
    } catch (error) {
      if (!isQuotaRefusal(error)) throw error;
      const now = Date.now();
      const waited = Math.round((now - started) / 1000);
      if (now + delay > wait.deadline) {
        throw new Error(
          `${wait.what} was refused by a ResourceQuota of namespace "${wait.namespace}" for ` +
            `${waited} s, until the prepare timeout: ${error.serverMessage}. Raise the quota ` +
            "(kubectl describe resourcequota), let fewer jobs run at once, or raise " +
            "ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS.",
        );
      }
      if (now >= nextReport) {
        wait.log(
          `${waited ? `Still waiting (${waited} s)` : "Waiting"} for room in a ResourceQuota of ` +
            `namespace "${wait.namespace}" to create ${wait.what}: ${error.serverMessage}`,
        );
        nextReport = now + QUOTA_REPORT_MS;
      }
      await sleep(delay, wait.signal);
    }
  }
}
