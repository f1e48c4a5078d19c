/**
 * The part of a step's workspace sync that starts before the step hook's own modules load:
 * listing what the runner changed under `<work>` since the last sync (GNU find, a process of
 * its own, 20–30 ms for 20,000 files) runs while this process loads the hook, reads the
 * kubeconfig and opens its connection; `stepUpload` (workspace.ts) then takes the listing. Its
 * imports are few and small, so that the listing starts early.
 *
 * @module
 */
import type { HookState } from "../runner/input.ts";
import { workLayout } from "../runner/layout.ts";
import { prefetchHostChanges, type SyncMark } from "../transfer/host_changes.ts";

/** kubehook's own directory under `<work>` and `/__w`. */
export const BOOKKEEPING = ".kubehook";
/** Never copied, nor deleted, in either direction. */
export const EXCLUDED = [BOOKKEEPING, "_temp/_runner_hook_responses"];

/** Starts listing the runner's changes for a step whose job syncs its workspace by copying (its
 * state holds a sync mark). Anything it cannot work out is left to the hook, which then lists
 * the changes itself and reports what is wrong. */
export function listChangesEarly(state: HookState, env: Record<string, string>): void {
  const since = (state?.sync as { host?: SyncMark } | undefined)?.host;
  if (typeof since?.timeMs !== "number") return;
  let work: string;
  try {
    work = workLayout(env).work;
  } catch {
    return;
  }
  prefetchHostChanges(work, since, { exclude: EXCLUDED });
}
