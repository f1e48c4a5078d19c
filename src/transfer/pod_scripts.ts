/**
 * The pod side of workspace transfers, as POSIX shell fragments to embed in the one `sh -c`
 * script an exec runs. They work with GNU tar/find/date and with busybox (1.35): the options
 * used are the ones both accept, and the features only GNU has (ctime tests, nanosecond clocks)
 * are probed at run time with a fallback.
 *
 * - {@link podExtractScript}: the archive on stdin → `tar x`, then one receipt line on stderr
 *   (tar's exit code, the number of entries it listed) for the host to check; or checked in the
 *   pod itself when the host knows the count before sending (a step's upload).
 * - {@link podMarkScript}: stamps a marker file; what changes after it is "changed".
 * - {@link podWindowEndScript}: stamps, without waiting, the marker a step's upload starts after.
 * - {@link podPackChangedScript}: a tar of what changed since a marker (or everything) on stdout,
 *   found by metadata alone (`find -cnewer`/`-newer`), never by reading contents; then a receipt.
 *   Optionally with the listing of every changed directory, so the host can delete what the pod
 *   deleted (`dir_listing.ts`).
 * - `pod_prune.ts` holds the other direction: removing in the pod what the host deleted.
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
import { shellQuote as quote } from "../shell_quote.ts";
import { LISTING_MEMBER } from "./dir_listing.ts";
import { parentOf } from "./path_safety.ts";
import { acceptedLines, countProblem, RECEIPT_PREFIX, type SentCount } from "./receipt.ts";

/** Where GNU tar's listing goes during an extraction: in kubehook's bookkeeping (never synced),
 * in a directory of the extraction's own (the shell's PID). An attempt cut off by a broken
 * connection may still run in the pod beside the next one: a shared listing file was removed by the
 * first to end from under the other's count, and the first to end removed the emptied bookkeeping
 * directory while the other was about to use it. */
const INDEX_DIR = ".kubehook";
const INDEX_FILE = "tar-index";
/** How often making the extraction's directory is tried: each failure is another attempt's
 * `rmdir` of the bookkeeping directory between the two `mkdir`s of `mkdir -p`, which that attempt
 * does once, as it ends. */
const MKDIR_TRIES = 5;

/** Options of {@link podExtractScript}. */
export interface ExtractScriptOptions {
  gzip: boolean;
  /** What the archive holds, when the host knows it before sending (a step's upload, whose
   * receipt the host never reads): the fragment then fails, saying so on stderr, unless tar
   * listed as many entries. */
  expect?: SentCount;
}

/** Extracts the tar archive on stdin into `dir` (created if missing). Modes are kept exactly
 * (`-p`), owners are not (`-o`: files belong to the container's user, who must be able to write
 * them). The `-v` listing is only counted (`wc -l`), never sent back.
 *
 * GNU tar writes `-v` to a pipe one line at a time, which made extracting 20,000 small files
 * 40 % slower; `TAR_OPTIONS` (read by GNU tar only) sends its listing to a file instead, written
 * in large blocks, and the file is counted after tar. busybox tar ignores `TAR_OPTIONS` and
 * lists to the pipe as before. Either way one of the two is empty. The file is in a directory
 * of this extraction's own in kubehook's bookkeeping (never synced); both are removed afterwards,
 * the bookkeeping directory only when nothing else is in it (a plain copy). */
export function podExtractScript(dir: string, options: ExtractScriptOptions): string {
  const source = options.gzip ? "gzip -dc | " : "";
  const bookkeeping = quote(`${dir}/${INDEX_DIR}`);
  const own = `${bookkeeping}/x.$$`;
  const extract = [
    // Tried again quietly; the last try's error is told.
    `{ ${Array(MKDIR_TRIES).fill(`mkdir -p ${own}`).join(" 2>/dev/null || ")}; } && ` +
    `rm -f ${own}/${INDEX_FILE} && {`,
    `  kh_r=$( { { cd ${own} && ${source}TAR_OPTIONS=--index-file=${INDEX_FILE} ` +
    `tar -x -v -p -o -f - -C ${quote(dir)} 2>&4; echo "tar_exit=$?" >&3; ` +
    `cat ${INDEX_FILE} 2>/dev/null; rm -f ${INDEX_FILE}; } | { echo "lines=$(wc -l)"; } >&3; } 3>&1 )`,
    `} 4>&2 && { rmdir ${own} ${bookkeeping} 2>/dev/null; true; } &&`,
    `echo ${RECEIPT_PREFIX} $kh_r >&2 && case "$kh_r" in *tar_exit=0*) true ;; *) false ;; esac`,
  ].join("\n");
  if (!options.expect) return extract;
  // The two lines tar_exit= and lines= come in either order: the count is the digits after lines=.
  const { min, max } = acceptedLines(options.expect);
  const fix = ` while extracting into ${dir} (${min}-${max} lines of tar -v accepted): the ` +
    "image's tar dropped or added entries, so nothing runs on an incomplete workspace. Use a " +
    "job image whose tar is GNU tar or busybox tar.";
  return [
    `${extract} &&`,
    `kh_l=\${kh_r#*lines=} && kh_l=\${kh_l%%[!0-9]*} &&`,
    `{ [ "$kh_l" -ge ${min} ] && [ "$kh_l" -le ${max} ] ||`,
    `  { printf '%s%s\\n' "kubehook: ${countProblem("$kh_l", options.expect)}" ${
      quote(fix)
    } >&2; false; }; }`,
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

/** Stamps `marker` just before a step's upload is extracted: the end of the window between the
 * last sync and the upload ({@link PackScriptOptions.window}). The upload's entries must be newer:
 * stamped at the current time, the first ones shared its clock tick in 6 of 10 tries and came
 * back. Rather than wait for the tick as {@link podMarkScript} does (about 10 ms of processes),
 * GNU touch sets the stamp 10 ms back: files are stamped from the kernel's coarse clock, at most
 * one tick (10 ms at HZ=100) behind. Other touches stamp the current time (the upload's entries
 * of that tick then come back once). */
export function podWindowEndScript(marker: string): string {
  const m = quote(marker);
  const dir = quote(marker.slice(0, Math.max(1, marker.lastIndexOf("/"))));
  return `{ [ -d ${dir} ] || mkdir -p ${dir}; } && ` +
    `{ touch -d '-0.01 seconds' ${m} 2>/dev/null || touch ${m}; }`;
}

/** Options of {@link podPackChangedScript}. */
export interface PackScriptOptions {
  /** Only entries changed after this marker (from {@link podMarkScript}); undefined: all. */
  since?: string;
  /** With `since` (a step's marker, stamped after its upload was extracted): also what changed
   * between the last sync (`from`, the last pack's `next`) and the upload (`to`, from
   * {@link podWindowEndScript}), e.g. by a process a step left running, but not the upload. GNU
   * find: a status change (ctime) after `from` and not after `to`, or a file written after `to`;
   * the upload's entries have later ctimes and the runner's mtimes. A directory written after
   * `to` is the upload's or the prune's and only listed, so a change of status alone (chmod, a
   * rename) or an empty directory made during the upload is not seen. busybox: every mtime after
   * `from`, so the runner's new files in the upload come back once. Directories with a ctime
   * after `from` are listed, the upload's too: extracting into them hid the window's deletions. */
  window?: { from: string; to: string };
  /** Marker stamped before packing unless it exists: the "since" of the next pack. Stamping it
   * only once keeps a retried pack from moving it past changes it did not send. */
  next?: string;
  /** Paths relative to `dir` always sent, with their contents, changed or not. */
  always?: string[];
  /** Paths relative to `dir` never sent (kubehook's own markers and logs). */
  exclude?: string[];
  /** Also list the children of every directory changed after `since` (of every directory
   * without it) and send that listing last, as the member {@link LISTING_MEMBER}, so the host
   * can remove what the pod deleted. */
  listing?: boolean;
  gzip: boolean;
}

/** Where the listing is written in the pod, relative to the packed directory: never packed. */
const LISTING_DIR = parentOf(LISTING_MEMBER);

/** Lists the directories given after the listing file (`sh -c LIST_DIRS kh FILE DIR...`, from
 * `find -exec {} +`): `find D/. -maxdepth 1 -print0` is the listing format itself. A batch that
 * fails (a directory removed meanwhile) is left out whole: no listing beats a partial one, which
 * would delete what it forgot. Most steps list a directory or two (where their upload wrote), so a
 * small batch runs one `find`, writing the listing directly when it is the first; a large one goes
 * through `printf` and `xargs` (rebuilding "$@" in the shell costs time quadratic in its length). */
const LIST_DIRS = `l=$1
shift
if [ -s "$l" ]; then p=$l.part; else p=$l; fi
if [ $# -le 32 ]; then
  for d do set -- "$@" "$d/."; shift; done
  find "$@" -maxdepth 1 -print0
else
  printf '%s/.\\0' "$@" | xargs -0 sh -c 'find "$@" -maxdepth 1 -print0' kh
fi >"$p" 2>/dev/null && { [ "$p" = "$l" ] || cat "$p" >>"$l"; } || : >"$p"
true`;

/** Writes a tar of `dir`'s changed entries to stdout, then a receipt (`pack_exit=N`) on stderr.
 * With GNU find, mtime and ctime are both compared with the marker's mtime (see
 * {@link podMarkScript}), and a directory moved in after the marker was stamped (ctime after the
 * marker's own ctime, mtime before its mtime) is sent whole; busybox find can only compare
 * mtimes. Several batches of `find -exec tar {} +` make several archives in a row, which the
 * host reads as one; the listing, made in the same walk, is one more archive at the end. */
export function podPackChangedScript(dir: string, options: PackScriptOptions): string {
  const listFile = quote(`./${LISTING_MEMBER}`);
  const exclude = [...(options.exclude ?? []), ...(options.listing ? [LISTING_DIR] : [])].flatMap((
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
  // The root is listed when it changed, but never packed. busybox runs `-exec {} +` only outside
  // parentheses, so listed directories take a branch of their own: listed, then packed.
  const listExec = options.listing ? `-exec sh -c ${quote(LIST_DIRS)} kh ${listFile} {} + ` : "";
  // A listed directory is packed when it also passes `changed` (with a window, fewer do).
  const listed = (dirs: string, changed?: string) =>
    options.listing
      ? `${dirs} ${listExec}! -path . ${changed ? `\\( ${changed} \\) ` : ""}${flat} -o `
      : "";
  let pack: string;
  if (options.since === undefined) {
    pack = `find . ${prune}${listed("-type d")}! -path . ${flat}`;
  } else {
    const m = quote(options.since);
    const gnu = gnuTests(m, options.window);
    // busybox: mtimes after the last sync (with a window) or after the step's marker.
    const b = options.window ? quote(options.window.from) : m;
    pack = [
      `if ${gnuFind(m)}; then`,
      `  find . ${prune}! -path . -type d \\( ${gnu.movedIn} \\) ${listExec}` +
      `-exec tar -c -f - {} + -o ${listed(`-type d \\( ${gnu.listed} \\)`, gnu.changed)}` +
      `! -path . \\( ${gnu.changed} ${always} \\) ${flat}`,
      `else`,
      `  find . ${prune}${
        listed(`-type d -newer ${b}`)
      }! -path . \\( -newer ${b} ${always} \\) ${flat}`,
      `fi`,
    ].join("\n");
  }
  if (options.listing) {
    const listDir = quote(`./${LISTING_DIR}`);
    pack = `{ [ -d ${listDir} ] || mkdir -p ${listDir}; } && : >${listFile} &&\n${pack} &&\n` +
      `{ [ ! -s ${listFile} ] || tar -c -f - ${listFile}; }`;
  }
  const next = options.next === undefined
    ? ""
    : `{ [ -e ${quote(options.next)} ] || ${podMarkScript(options.next)}; } && `;
  // GNU tar unquotes the names it is given (`a\\tb` becomes a tab), so a name holding a backslash
  // was not found; TAR_OPTIONS reaches GNU tar only (busybox takes names as they are).
  const body = `${next}cd ${
    quote(dir)
  } && TAR_OPTIONS=--no-unquote && export TAR_OPTIONS && {\n${pack}\n}`;
  const piped = options.gzip
    ? `{ kh_r=$( { { ${body}\necho "pack_exit=$?" >&3; } | gzip -c >&4; } 3>&1 ); } 4>&1`
    : `{ kh_r=$( { ${body}\n} >&4; echo "pack_exit=$?" ); } 4>&1`;
  return `${piped}\necho ${RECEIPT_PREFIX} $kh_r >&2; case "$kh_r" in *pack_exit=0*) true ;; *) false ;; esac`;
}

/** GNU find's tests, `m` being the quoted marker after the step's upload: directories moved in
 * (status changed, mtime not: sent whole), directories to list, changed entries; with a window
 * ({@link PackScriptOptions.window}) the same for its time too. */
function gnuTests(m: string, window?: { from: string; to: string }) {
  const movedIn = `-newercc ${m} ! -newer ${m}`;
  const changed = `-newer ${m} -o -cnewer ${m}`;
  if (!window) return { movedIn, listed: changed, changed };
  const [f, t] = [quote(window.from), quote(window.to)];
  return {
    movedIn: `${movedIn} -o -cnewer ${f} ! -cnewer ${t} ! -newer ${f}`,
    listed: `-newer ${t} -o -cnewer ${f}`,
    // A directory written during the upload is the upload's (a new file in it) or the prune's.
    changed: `-newer ${t} ! -type d -o ${changed} -o -cnewer ${f} ! -cnewer ${t}`,
  };
}

/** Succeeds when `find` is GNU find, whose `-cnewer`/`-newercc` compare ctimes (busybox has
 * neither); `m` is a quoted marker path. */
function gnuFind(m: string): string {
  return `find ${m} -maxdepth 0 -newercc ${m} >/dev/null 2>&1`;
}

/** A `find -path` pattern for a literal relative path: `./` prefix, glob characters escaped. */
function pathPattern(rel: string): string {
  return quote(`./${rel.replace(/\/+$/, "").replace(/[*?[\]\\]/g, "\\$&")}`);
}
