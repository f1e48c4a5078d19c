/**
 * The pod side of workspace transfers, as POSIX shell fragments to embed in the one `sh -c`
 * script an exec runs. They work with GNU tar/find/date and with busybox (1.35): the options
 * used are the ones both accept, and the features only GNU has (ctime tests, nanosecond clocks)
 * are probed at run time with a fallback.
 *
 * - {@link podExtractScript}: the archive on stdin → `tar x`, then one receipt line on stderr
 *   (tar's exit code, the number of entries it listed) for the host to check.
 * - {@link podMarkScript}: stamps a marker file; what changes after it is "changed".
 * - {@link podPackChangedScript}: a tar of what changed since a marker (or everything) on stdout,
 *   found by metadata alone (`find -cnewer`/`-newer`), never by reading contents; then a receipt.
 *
 * Fragments use variables named `kh_*` and never `exit`: each one's status is its last command's.
 *
 * @example
 * ```ts
 * const script = `${podExtractScript("/__w", { gzip: false })} || exit 1\n` +
 *   `${podMarkScript("/__w/_temp/_kubehook/step-3")}\n` + startStep;
 * ```
 * @module
 */
import { quote } from "../hooks/step_environment.ts";
import { RECEIPT_PREFIX } from "./receipt.ts";

/** Extracts the tar archive on stdin into `dir` (created if missing). Modes are kept exactly
 * (`-p`), owners are not (`-o`: files belong to the container's user, who must be able to write
 * them). The `-v` listing is only counted (`wc -l`), never sent back. */
export function podExtractScript(dir: string, options: { gzip: boolean }): string {
  const source = options.gzip ? "gzip -dc | " : "";
  return [
    `mkdir -p ${quote(dir)} && {`,
    `  kh_r=$( { { ${source}tar -x -v -p -o -f - -C ${quote(dir)} 2>&4;` +
    ` echo "tar_exit=$?" >&3; } | { echo "lines=$(wc -l)"; } >&3; } 3>&1 )`,
    `} 4>&2 && echo ${RECEIPT_PREFIX} $kh_r >&2 && case "$kh_r" in *tar_exit=0*) true ;; *) false ;; esac`,
  ].join("\n");
}

/** Stamps `marker` (creating its directory). A later pack counts a file as changed when its mtime
 * or (GNU find) its ctime is after the stamp, so nothing written after this returns may share the
 * stamp's clock tick. With GNU tools the stamp is the current time and the fragment returns only
 * once the filesystem clock has moved past it (a probe file is touched until it is newer: one
 * tick, a few milliseconds), so the files extracted just before — a step's own incoming files —
 * do not come back. busybox knows only whole seconds, so there the stamp is set one to two
 * seconds back instead, and files from those last seconds come back once (never missed). */
export function podMarkScript(marker: string): string {
  const m = quote(marker);
  const tick = quote(`${marker}.tick`);
  return [
    `mkdir -p "$(dirname ${m})" && {`,
    `  kh_t=$(date +%s%N 2>/dev/null)`,
    `  case "$kh_t" in *[!0-9]* | ?????????? | '') kh_t= ;; esac`,
    `  if [ -n "$kh_t" ]; then touch ${m} && kh_i=0 &&`,
    `    until [ -n "$(find ${tick} -newer ${m} 2>/dev/null)" ] || [ "$kh_i" -gt 1000 ]; do`,
    `      touch ${tick}; kh_i=$((kh_i + 1)); done && rm -f ${tick}; else false; fi ||`,
    `    touch -d "@$(($(date +%s) - 1))" ${m}`,
    `}`,
  ].join("\n");
}

/** Options of {@link podPackChangedScript}. */
export interface PackScriptOptions {
  /** Only entries changed after this marker (from {@link podMarkScript}); undefined: all. */
  since?: string;
  /** Marker stamped before packing unless it exists: the "since" of the next pack. Stamping it
   * only once keeps a retried pack from moving it past changes it did not send. */
  next?: string;
  /** Paths relative to `dir` always sent, with their contents, changed or not. */
  always?: string[];
  /** Paths relative to `dir` never sent (kubehook's own markers and logs). */
  exclude?: string[];
  gzip: boolean;
}

/** Writes a tar of `dir`'s changed entries to stdout, then a receipt (`pack_exit=N`) on stderr.
 * With GNU find, mtime and ctime are both compared with the marker's mtime (see
 * {@link podMarkScript}), and a directory moved in after the marker was stamped (ctime after the
 * marker's own ctime, mtime before its mtime) is sent whole; busybox find can only compare
 * mtimes. Several batches of `find -exec tar {} +` make several archives in a row, which the
 * host reads as one. */
export function podPackChangedScript(dir: string, options: PackScriptOptions): string {
  const exclude = (options.exclude ?? []).flatMap((
    p,
    i,
  ) => [i ? "-o" : "", "-path", pathPattern(p)]);
  const prune = exclude.length ? `\\( ${exclude.join(" ").trim()} \\) -prune -o ` : "";
  const always = (options.always ?? []).flatMap((p) => [
    "-o -path",
    pathPattern(p),
    "-o -path",
    pathPattern(p) + "'/*'",
  ]).join(" ");
  const flat = "-exec tar -c -f - --no-recursion {} +";
  let pack: string;
  if (options.since === undefined) {
    pack = `find . -mindepth 1 ${prune}${flat}`;
  } else {
    const m = quote(options.since);
    pack = [
      `if find ${m} -maxdepth 0 -newercc ${m} >/dev/null 2>&1; then`,
      `  find . -mindepth 1 ${prune}-type d -newercc ${m} ! -newer ${m} -exec tar -c -f - {} +` +
      ` -o \\( -newer ${m} -o -cnewer ${m} ${always} \\) ${flat}`,
      `else`,
      `  find . -mindepth 1 ${prune}\\( -newer ${m} ${always} \\) ${flat}`,
      `fi`,
    ].join("\n");
  }
  const next = options.next === undefined
    ? ""
    : `{ [ -e ${quote(options.next)} ] || ${podMarkScript(options.next)}; } && `;
  const body = `${next}cd ${quote(dir)} && {\n${pack}\n}`;
  const piped = options.gzip
    ? `{ kh_r=$( { { ${body}\necho "pack_exit=$?" >&3; } | gzip -c >&4; } 3>&1 ); } 4>&1`
    : `{ kh_r=$( { ${body}\n} >&4; echo "pack_exit=$?" ); } 4>&1`;
  return `${piped}\necho ${RECEIPT_PREFIX} $kh_r >&2; case "$kh_r" in *pack_exit=0*) true ;; *) false ;; esac`;
}

/** A `find -path` pattern for a literal relative path: `./` prefix, glob characters escaped. */
function pathPattern(rel: string): string {
  return quote(`./${rel.replace(/\/+$/, "").replace(/[*?[\]\\]/g, "\\$&")}`);
}
