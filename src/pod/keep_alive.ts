/**
 * The command of a container that only has to stay up (the job container without a workflow
 * entrypoint, the externals container after its copy, a step pod's helper) until its pod is
 * deleted.
 *
 * @module
 */

/** Sleeps until told to stop. A shell that is PID 1 ignores SIGTERM unless it traps it, and runs a
 * trap only after the foreground command ends; `sleep & wait` keeps the shell in `wait`, which a
 * trapped signal interrupts at once, so deleting the pod takes milliseconds, not the grace period.
 * Needs only `sh`. */
export const KEEP_ALIVE_SCRIPT =
  "trap 'kill $! 2>/dev/null; exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";

/** {@link KEEP_ALIVE_SCRIPT} as a container's command. */
export const KEEP_ALIVE_COMMAND: readonly string[] = ["sh", "-c", KEEP_ALIVE_SCRIPT];
