#!/bin/sh
# The file ACTIONS_RUNNER_CONTAINER_HOOKS points at. The runner runs it as `bash -e hook.sh` with the
# hook JSON on stdin; everything (stdin, output, exit code, signals) passes straight through `exec`.
# A compiled `kubehook` beside this file wins; otherwise the source in this repository runs with Deno
# (from PATH, or the copy npm installs under node_modules/.bin).
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
deno_bin="$(command -v deno || true)"
[ -n "$deno_bin" ] || deno_bin="$here/../node_modules/.bin/deno"
if [ ! -x "$deno_bin" ]; then
  echo "kubehook: running from source needs Deno, which is not on PATH. Install it with 'npm install -g deno@2.9.6'." >&2
  exit 1
fi
exec "$deno_bin" run --quiet --no-prompt --allow-all --config "$here/../deno.json" "$main" "$@"
