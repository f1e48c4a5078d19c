// kubehook's Node shim, for runner configurations whose ACTIONS_RUNNER_CONTAINER_HOOKS still points
// at an `index.js` (ARC's kubernetes mode sets /home/runner/k8s/index.js unless told otherwise).
// The runner starts it with its bundled Node; it starts the compiled `kubehook` beside it (or
// $KUBEHOOK_BIN) on the same stdin, stdout and stderr, forwards the runner's cancellation signals,
// and ends the way kubehook ended: same exit code, or killed by the same signal.
// Plain CommonJS without dependencies, so that any Node the runner bundles can run it.
"use strict";

const { spawn } = require("node:child_process");
const os = require("node:os");
const path = require("node:path");

// The runner cancels with SIGINT, then SIGTERM 7.5 s later; SIGHUP covers a closed terminal.
const FORWARDED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"];

const binary = process.env.KUBEHOOK_BIN || path.join(__dirname, "kubehook");

function forward(signal) {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
}

// Listening before the child starts leaves no moment in which a signal kills Node alone. Handlers
// run from the event loop, so none can run before `child` below is assigned.
for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);

// Inherited descriptors: kubehook reads the runner's stdin and writes the step log itself, byte for
// byte, with nothing buffered in between.
const child = spawn(binary, process.argv.slice(2), { stdio: "inherit" });

child.on("error", (error) => {
  const fix = error.code === "ENOENT"
    ? "install the kubehook binary beside this file, or set KUBEHOOK_BIN to its path"
    : error.code === "EACCES"
    ? "make it executable (chmod 755)"
    : "check that it is the kubehook binary for this machine's architecture";
  process.stderr.write(`kubehook shim: cannot start ${binary}: ${error.message}. Fix: ${fix}.\n`);
  process.exit(error.code === "ENOENT" ? 127 : 126);
});

child.on("exit", (code, signal) => {
  if (signal === null) process.exit(code);
  // Die of the same signal, as a shell's `exec` would have; the exit code covers a signal that
  // cannot kill Node (one it ignores).
  for (const forwarded of FORWARDED_SIGNALS) process.removeListener(forwarded, forward);
  process.kill(process.pid, signal);
  process.exit(128 + (os.constants.signals[signal] || 0));
});
