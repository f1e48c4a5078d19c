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

/** The prune fragment's function: `kh_prune DIR NAME...` removes the children of DIR (`.` or
 * `./REL`) that are not among the NAMEs, unless they changed after the marker `$kh_m` (the pod's
 * news since the last sync) or DIR is reached through a symbolic link (its physical path is not
 * the expected one). Builtins only, no process per directory or per name: the NAMEs become empty
 * files of a skeleton (`$kh_k/N/NAME`), so "is it listed?" is a `test -e`, and the children come
 * from globs. `test -nt` compares mtimes (nanoseconds in dash and bash, seconds in busybox, whose
 * markers are set a second or two back); ctimes are not compared. */
const PRUNE_FUNCTION = `kh_prune() {
  kh_i=$((kh_i + 1))
  kh_d=$1
  shift
  for kh_n do : >"$kh_k/$kh_i/$kh_n" || return 0; done
  case $kh_d in .) kh_w=$kh_root ;; *) kh_w=$kh_root/\${kh_d#./} ;; esac
  if cd -P "$kh_d" 2>/dev/null && [ "$PWD" = "$kh_w" ]; then
    for kh_c in * .[!.]* ..?*; do
      { [ -e "$kh_c" ] || [ -h "$kh_c" ]; } && [ ! -e "$kh_k/$kh_i/$kh_c" ] &&
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
 * skeleton (`<listing>.keep`) goes with the step's directory, which the next step removes; a
 * repeated upload writes the same listing, so it may find its skeleton already there. Two
 * processes in all (a subshell and one `mkdir`): this runs before every step. */
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
  // The skeleton's directories, one per listing, in one process; none made, nothing removed.
  const skeleton = listings.map((_, i) => `"$kh_k/${i + 1}"`).join(" ");
  return `mkdir -p ${skeleton} || return 0\n` + listings.map(({ dir, names }) => {
    const kept = keep.filter((path) => parentOf(path) === dir).map((path) =>
      path.slice(dir ? dir.length + 1 : 0)
    );
    const words = [...names, ...kept].map(quote).join(" ");
    return `kh_prune ${quote(dir === "" ? "." : `./${dir}`)} ${words}\n`;
  }).join("");
}
