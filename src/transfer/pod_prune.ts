/**
 * Deletions from the host to the pod, as POSIX shell for the step's exec (GNU and busybox alike):
 * {@link podPruneListing} writes the host's listings of its changed directories as a small shell
 * file that travels in the step's upload, and {@link podPruneScript} sources it in the pod,
 * removing the children of each listed directory that the listing does not name. The pod's shell
 * cannot read NUL-separated records, hence a file of quoted words rather than the listing format
 * of `dir_listing.ts`, which carries deletions the other way.
 *
 * @module
 */
import { shellQuote as quote } from "../shell_quote.ts";
import type { DirListing } from "./dir_listing.ts";
import { parentOf } from "./path_safety.ts";

/** Listings of at most this many names are looked up in memory; longer ones through a skeleton
 * of empty files. */
const SMALL_LISTING = 128;

/** The prune fragment's function: `kh_prune DIR NAME...` removes the children of DIR (`.` or
 * `./REL`) that are not among the NAMEs, unless they changed after the marker `$kh_m` (the pod's
 * news since the last sync) or DIR is reached through a symbolic link (its physical path is not
 * the expected one). Builtins only, no process per directory or per name; the children come from
 * globs. "Is it listed?": up to {@link SMALL_LISTING} NAMEs are joined by `/` (which no name holds)
 * and a child is found by a quoted, so literal, `case` pattern; more become empty files of a
 * skeleton (`$kh_k/N/NAME`) and a `test -e` each, linear in the names where the joined string is
 * quadratic (dash: 2 ms for 64 names, 17 ms for 256, 230 ms for 1,000). Creating a file costs a
 * disk's metadata write, about 1 ms on this project's VMs (20 µs on a common SSD), and the runner's
 * file-command directory is listed before every step, with five more names each time. `test -nt` compares mtimes (nanoseconds in dash and bash, seconds in busybox, whose
 * markers are set a second or two back); ctimes are not compared. */
const PRUNE_FUNCTION = `kh_listed() {
  if [ -n "$kh_f" ]; then [ -e "$kh_f/$1" ]; else case $kh_s in *"/$1/"*) ;; *) false ;; esac; fi
}
kh_prune() {
  kh_i=$((kh_i + 1))
  kh_d=$1
  shift
  kh_s=/ kh_f=
  if [ "$#" -le ${SMALL_LISTING} ]; then
    for kh_n do kh_s=$kh_s$kh_n/; done
  else
    kh_f=$kh_k/$kh_i
    for kh_n do : >"$kh_f/$kh_n" || return 0; done
  fi
  case $kh_d in .) kh_w=$kh_root ;; *) kh_w=$kh_root/\${kh_d#./} ;; esac
  if cd -P "$kh_d" 2>/dev/null && [ "$PWD" = "$kh_w" ]; then
    for kh_c in * .[!.]* ..?*; do
      { [ -e "$kh_c" ] || [ -h "$kh_c" ]; } && ! kh_listed "$kh_c" &&
        [ ! "$kh_c" -nt "$kh_m" ] && rm -rf "./$kh_c"
    done
  fi
  cd "$kh_root"
}`;

/** Removes what the host deleted: `listing` is a file of the step's upload, written by
 * {@link podPruneListing}, that calls {@link PRUNE_FUNCTION} once per directory the host lists.
 * What changed after `since` (the last sync) is the pod's own news and is kept. Runs in a
 * subshell, after the upload is extracted and before the step's marker, and never fails the
 * step: without the marker, or when the skeleton cannot be made, nothing is removed. The
 * skeleton (`<listing>.keep`, for long listings only) goes with the step's directory, which the
 * next step removes; a repeated upload writes the same listing, so it may find its skeleton already
 * there. At most two processes in all (a subshell and one `mkdir`): this runs before every step. */
export function podPruneScript(dir: string, listing: string, since: string): string {
  return [
    `( cd -P ${quote(dir)} && kh_root=$PWD && kh_m=${quote(since)} && kh_k=${
      quote(`${listing}.keep`)
    } && kh_i=0 && [ -e "$kh_m" ] || exit 0`,
    PRUNE_FUNCTION,
    `. ${quote(listing)}`,
    `true )`,
  ].join("\n");
}

/** The file {@link podPruneScript} sources: one `kh_prune DIR NAME...` line per listing, names
 * quoted for the shell (any byte but NUL survives, newlines too). The `keep` paths (kubehook's
 * bookkeeping) are added to their parent directory's names, so the pod never removes them. */
export function podPruneListing(listings: DirListing[], keep: string[] = []): string {
  const words = listings.map(({ dir, names }) => [
    ...names,
    ...keep.filter((path) => parentOf(path) === dir).map((path) =>
      path.slice(dir ? dir.length + 1 : 0)
    ),
  ]);
  // The skeleton's directories, one per long listing, in one process; none made, nothing removed.
  const skeleton = words.flatMap((w, i) => w.length > SMALL_LISTING ? [`"$kh_k/${i + 1}"`] : []);
  return (skeleton.length > 0 ? `mkdir -p ${skeleton.join(" ")} || return 0\n` : "") +
    listings.map(({ dir }, i) =>
      `kh_prune ${quote(dir === "" ? "." : `./${dir}`)} ${words[i].map(quote).join(" ")}\n`
    ).join("");
}
