#!/bin/sh
# The file ACTIONS_RUNNER_CONTAINER_HOOKS points at. The runner runs it as `bash -e hook.sh` with the
# hook JSON on stdin; everything (stdin, output, exit code, signals) passes straight through `exec`.
# A compiled `kubehook` beside this file wins; otherwise the source in this repository runs with Deno
# (from PATH, the copy npm installs under node_modules/.bin, or the pinned version through npx).
here="$(cd "$(dirname "$0")" && pwd)"
if [ -x "$here/kubehook" ]; then
  exec "$here/kubehook" "$@"
fi
main="$here/../src/main.ts"
if [ ! -f "$main" ]; then
  echo "kubehook: no 'kubehook' binary beside $here/hook.sh and no source at $main." >&2
  echo "Install the release binary next to this script (see the README, 'Install in a runner image')." >&2
  exit 1
fi
# The Deno version the project pins (also in .ci/run, the README and the workflows).
deno_version=2.9.6
# --no-lock: with the lockfile Deno fetches every npm package it lists at start-up, 69 of them for
# @kubernetes/client-node, whose types alone src/ uses; without it only what runs is fetched (yaml,
# pinned to one version in deno.json's import map).
# --v8-flags: V8's young generation held at 1 MB and its old generation grown in small steps
# (scripts/compile.ts builds the binary with the same flags): what a copy allocates is collected
# soon instead of piling up (docs/performance.md).
set -- run --quiet --no-prompt --no-lock --allow-all \
  --v8-flags=--max-semi-space-size=1,--optimize-for-size --config "$here/../deno.json" "$main" "$@"
# No call home from the runner: Deno's update check would contact dl.deno.land (through HTTPS_PROXY).
export DENO_NO_UPDATE_CHECK=1
deno_bin="$(command -v deno || true)"
[ -n "$deno_bin" ] || deno_bin="$here/../node_modules/.bin/deno"
if [ -x "$deno_bin" ]; then
  exec "$deno_bin" "$@"
fi
# Where only Node is present, npm's copy of the pinned Deno (fetched once into npm's cache).
if command -v npx >/dev/null 2>&1; then
  exec npx --yes "deno@$deno_version" "$@"
fi
echo "kubehook: running from source needs Deno, which is not on PATH. Install it with 'npm install -g deno@$deno_version'." >&2
exit 1
