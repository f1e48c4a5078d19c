/**
 * The `unschedulable` fault on a real node. The embedded cluster refuses the next `count` pods
 * for good and schedules the ones after them. The real node is cordoned, so the scheduler
 * refuses pods with its own words ("node(s) were unschedulable", a FailedScheduling event); each
 * pod it refuses uses up one count, and the node stays cordoned until the count is used up and
 * every refused pod is gone (else the scheduler would place them once uncordoned), or until the
 * faults are cleared. While refused pods remain after the count is used up, new pods are refused
 * too: the one difference from the embedded cluster.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { Faults } from "../cluster/api/faults.ts";

/** Calls the API server as the admin. */
export type AdminApi = (
  method: string,
  path: string,
  body?: unknown,
  contentType?: string,
) => Promise<unknown>;

const POLL_MS = 200;
const UNSCHEDULED = `/api/v1/pods?fieldSelector=${encodeURIComponent("spec.nodeName=")}`;

export class UnschedulableFault {
  /** The uids of the pods refused while the fault lasted. */
  #refused = new Set<string>();
  #watching: Promise<void> | undefined;
  #stop = false;

  constructor(
    private readonly api: AdminApi,
    private readonly node: string,
    private readonly faults: Faults,
  ) {}

  /** An unschedulable fault was added: cordon, and count the pods the scheduler refuses. */
  async armed(): Promise<void> {
    await this.#cordon(true);
    this.#stop = false;
    this.#watching ??= this.#watch().finally(() => this.#watching = undefined);
  }

  /** The faults were cleared (or the front door closes): uncordon at once. */
  async cleared(): Promise<void> {
    this.#stop = true;
    await this.#watching;
    this.#refused.clear();
    await this.#cordon(false);
  }

  #active(): boolean {
    return this.faults.list().some((fault) => fault.kind === "unschedulable");
  }

  async #watch(): Promise<void> {
    while (!this.#stop) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (this.#stop) return;
      const list = await this.api("GET", UNSCHEDULED).catch(() => undefined) as
        | { items: V1Pod[] }
        | undefined;
      if (!list) continue;
      const pending = new Set<string>();
      for (const pod of list.items) {
        const uid = pod.metadata?.uid ?? "";
        pending.add(uid);
        const refused = pod.status?.conditions?.some((c) =>
          c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable"
        );
        if (refused && !this.#refused.has(uid) && this.faults.takeUnschedulable()) {
          this.#refused.add(uid);
        }
      }
      for (const uid of this.#refused) if (!pending.has(uid)) this.#refused.delete(uid);
      if (!this.#active() && this.#refused.size === 0) {
        await this.#cordon(false).catch(() => {});
        return;
      }
    }
  }

  async #cordon(on: boolean): Promise<void> {
    await this.api(
      "PATCH",
      `/api/v1/nodes/${this.node}`,
      { spec: { unschedulable: on ? true : null } },
      "application/merge-patch+json",
    );
  }
}
