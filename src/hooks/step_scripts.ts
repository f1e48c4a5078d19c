/**
 * The pod side of a detached step, as POSIX shell scripts run with `sh -c SCRIPT kubehook ARGS...`
 * (busybox and GNU alike): start the step once, follow its output file from a byte offset with an
 * in-band heartbeat, resume following after a broken connection, and stop it. `detached_step.ts`
 * drives them from the host.
 *
 * Markers on the follower's stderr: `kubehook-started` once the step runs, `kubehook-alive` while
 * it is quiet, `kubehook-exit N SIZE` at the end (the script then exits with N too; SIZE is the
 * step's whole output in bytes: stderr is a pipe of its own, so the marker may overtake the last of
 * stdout), and `kubehook-missing` when the step's directory is gone.
 *
 * @module
 */

/** Where kubehook keeps a step's bookkeeping in the job container (never synced back). */
export const STEP_ROOT = "/__w/.kubehook/steps";

/** The follower: prints the output file from byte `$off` until the step's code file exists, with a
 * heartbeat on stderr every `$hb` quiet polls; then reports the exit code and exits with it. It
 * polls every 0.02 s for the first ten quiet polls after output (most steps end right after
 * printing, and each step pays the delay before its end is seen), then every 0.1 s. */
const FOLLOW = `
echo $$ >>"$d/followers"
quiet=0
idle=0
while :; do
  if [ -e "$d/code" ]; then fin=1; else fin=0; fi
  size=$(($(wc -c <"$d/out")))
  if [ "$size" -gt "$off" ]; then
    tail -c +$((off + 1)) "$d/out" | head -c $((size - off))
    off=$size
    quiet=0
    idle=0
  elif [ "$fin" = 0 ]; then
    quiet=$((quiet + 1))
    idle=$((idle + 1))
    if [ "$quiet" -ge "$hb" ]; then echo kubehook-alive >&2; quiet=0; fi
    if [ "$idle" -le 10 ]; then sleep 0.02; else sleep 0.1; fi
  fi
  [ "$fin" = 1 ] && break
done
code=$(cat "$d/code")
echo "kubehook-exit $code $off" >&2
exit "$code"
`;

/** Starts the step unless it already started: `sh -c START kubehook DIR HB WORKDIR ARGV...`. The
 * step's environment file, extracted with the upload, is read by the step's shell and then removed
 * (also when the step cannot start: it holds the step's secrets). A start tried again after its
 * connection broke finds the step started and leaves the upload unread: extracting it again (and
 * stamping the step's markers again) would undo what the running step changed. */
export function startScript(extract: string): string {
  return `set -u
d=$1 hb=$2 wd=$3
shift 3
[ -d "$d/started" ] || {
${extract}
} || exit 95
mkdir -p "$d" || exit 96
for old in ${STEP_ROOT}/*; do [ "$old" = "$d" ] || rm -rf "$old"; done
if mkdir "$d/started" 2>/dev/null; then
  : >"$d/out"
  setsid sh -c '
    d=$1 wd=$2
    shift 2
    trap : TERM INT
    (
      cd "$wd" 2>/dev/null || { rm -f "$d/env"; echo "kubehook: the working directory $wd does not exist in the job container" >&2; exit 1; }
      . "$d/env" && rm -f "$d/env" && exec "$@"
    ) >>"$d/out" 2>&1 </dev/null
    echo $? >"$d/code.tmp" && mv "$d/code.tmp" "$d/code"
  ' kubehook-step "$d" "$wd" "$@" </dev/null >/dev/null 2>&1 &
  echo $! >"$d/pid"
fi
echo kubehook-started >&2
off=0
${FOLLOW}`;
}

/** Resumes following: `sh -c RESUME kubehook DIR HB OFFSET`. */
export const RESUME = `set -u
d=$1 hb=$2 off=$3
[ -d "$d/started" ] || { echo "kubehook-missing" >&2; exit 97; }
${FOLLOW}`;

/** Stops the step: `sh -c STOP kubehook DIR`. The step's process group gets TERM (its wrapper
 * traps it, so it outlives the step and records the exit code), then KILL after 5 s; a code is
 * written if the wrapper could not, so followers still attached from the cut session end, and they
 * are stopped too. The final pause lets their last `sleep 0.1` run out, so nothing of the step is
 * left in the pod when this returns. */
export const STOP = `d=$1
[ -f "$d/pid" ] || exit 0
pid=$(cat "$d/pid")
kill -TERM -"$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
i=0
while [ ! -e "$d/code" ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -KILL -"$pid" 2>/dev/null
[ -e "$d/code" ] || { echo 137 >"$d/code.tmp" && mv "$d/code.tmp" "$d/code"; }
[ -f "$d/followers" ] && kill $(cat "$d/followers") 2>/dev/null
sleep 0.2
exit 0`;
