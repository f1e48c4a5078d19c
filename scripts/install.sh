#!/bin/sh
# Installs kubehook into a runner image: the `kubehook` binary, `hook.sh` (what
# ACTIONS_RUNNER_CONTAINER_HOOKS should point at; no Node involved) and `hook.js`, also installed as
# `index.js` so that ARC's default ACTIONS_RUNNER_CONTAINER_HOOKS=/home/runner/k8s/index.js keeps
# working. The release's SHA256SUMS is verified before anything is written (unless --no-verify),
# and the binary must say it is kubehook. POSIX sh, so that it runs in minimal images (dash,
# busybox ash).
set -eu

usage() {
  cat <<'EOF'
Usage: install.sh [--from DIR] [--binary FILE] [--dest DIR] [--sha256 HEX] [--checksums FILE]
                  [--no-verify]

  --from DIR        where hook.sh, hook.js and the binary are (default: this script's folder,
                    e.g. a folder holding a release's files)
  --binary FILE     the kubehook binary (default: the first of DIR/kubehook-<arch>-unknown-linux-gnu,
                    DIR/kubehook, DIR/../dist/kubehook-<arch>-unknown-linux-gnu)
  --dest DIR        the runner's hook folder (default: /home/runner/k8s)
  --sha256 HEX      the binary's expected SHA-256
  --checksums FILE  a sha256sum file (default: DIR/SHA256SUMS, the release's): the binary, hook.sh
                    and hook.js must be listed in it and match
  --no-verify       install without a checksums file (e.g. a binary you built yourself); the binary
                    must still say it is kubehook
EOF
}

fail() {
  echo "install.sh: $*" >&2
  exit 1
}

from=$(cd "$(dirname "$0")" && pwd)
binary=
dest=/home/runner/k8s
sha256=
checksums=
verify_sums=1
while [ $# -gt 0 ]; do
  case "$1" in
    --from | --binary | --dest | --sha256 | --checksums)
      [ $# -ge 2 ] || fail "$1 needs a value (see --help)."
      case "$1" in
        --from) from=$2 ;;
        --binary) binary=$2 ;;
        --dest) dest=$2 ;;
        --sha256) sha256=$2 ;;
        --checksums) checksums=$2 ;;
      esac
      shift 2
      ;;
    --no-verify)
      verify_sums=0
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) fail "unknown argument '$1' (see --help)." ;;
  esac
done

case "$(uname -m)" in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) fail "this machine is $(uname -m); kubehook is released for x86_64 and aarch64 Linux only." ;;
esac
triple="$arch-unknown-linux-gnu"

if [ -z "$binary" ]; then
  for candidate in "$from/kubehook-$triple" "$from/kubehook" "$from/../dist/kubehook-$triple"; do
    if [ -f "$candidate" ]; then
      binary=$candidate
      break
    fi
  done
  [ -n "$binary" ] || fail "no kubehook binary for $triple in $from (looked for kubehook-$triple, \
kubehook and ../dist/kubehook-$triple). Download it from the release or run 'deno task compile', \
or pass --binary FILE."
fi
for file in "$binary" "$from/hook.sh" "$from/hook.js"; do
  [ -f "$file" ] || fail "$file does not exist. Pass --from with the folder holding the release files."
done

has() {
  command -v "$1" >/dev/null 2>&1
}

sha256_of() {
  if has sha256sum; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif has shasum; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  else
    openssl dgst -sha256 "$1" | sed 's/^.*= *//'
  fi
}

# verify FILE EXPECTED: compares case-insensitively, since checksums are pasted from many places.
verify() {
  has sha256sum || has shasum || has openssl ||
    fail "cannot verify checksums: none of sha256sum, shasum or openssl is installed."
  actual=$(sha256_of "$1")
  expected=$(printf '%s' "$2" | tr 'A-F' 'a-f')
  [ "$actual" = "$expected" ] || fail "checksum mismatch for $1: expected $expected, got $actual. \
The file is corrupt or not the one released; download it again. Nothing was installed."
}

# listed_sum NAME: the checksum recorded for NAME in the checksums file ('*' marks binary mode).
listed_sum() {
  awk -v name="$1" '{ file = $2; sub(/^\*/, "", file) } file == name { print $1; exit }' "$checksums"
}

if [ -n "$sha256" ]; then
  verify "$binary" "$sha256"
fi
if [ -z "$checksums" ] && [ "$verify_sums" = 1 ]; then
  checksums=$from/SHA256SUMS
  [ -f "$checksums" ] || fail "$checksums does not exist, so nothing can be verified. Download \
SHA256SUMS from the same release into $from, pass --checksums FILE, or --no-verify for a binary \
you built yourself. Nothing was installed."
fi
if [ -n "$checksums" ]; then
  [ -f "$checksums" ] || fail "checksums file $checksums does not exist."
  for file in "$binary" "$from/hook.sh" "$from/hook.js"; do
    sum=$(listed_sum "$(basename "$file")")
    [ -n "$sum" ] || fail "$(basename "$file") is not listed in $checksums; use the checksums \
file of the release the files come from. Nothing was installed."
    verify "$file" "$sum"
  done
fi

# stage SOURCE NAME: copy under a temporary name first, so a runner starting a job meanwhile never
# sees a half-written file; `commit NAME` renames it into place.
stage() {
  cp "$1" "$dest/.$2.partial"
  chmod 0755 "$dest/.$2.partial"
}
commit() {
  mv -f "$dest/.$1.partial" "$dest/$1"
}

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
stage "$binary" kubehook
# A binary that cannot start here (wrong architecture, or a musl system such as Alpine) would fail
# every job later; find out now. The staged copy is executable even when the download was not.
status=0
version=$("$dest/.kubehook.partial" --version 2>&1) || status=$?
if [ "$status" -ne 0 ]; then
  rm -f "$dest/.kubehook.partial"
  fail "$binary does not run on this machine (exit $status${version:+: $version}). kubehook \
needs glibc Linux on x86_64 or aarch64 (Alpine/musl is not supported)."
fi
case "$version" in
  kubehook\ *) ;;
  *)
    rm -f "$dest/.kubehook.partial"
    fail "$binary is not kubehook: its --version printed '$(printf '%s' "$version" | head -n 1)'. \
A binary compiled on a plain deno instead of denort is Deno itself; take the release's binary or \
build with 'deno task compile'. Nothing was installed."
    ;;
esac
stage "$from/hook.sh" hook.sh
stage "$from/hook.js" hook.js
stage "$from/hook.js" index.js
for name in kubehook hook.sh hook.js index.js; do commit "$name"; done

echo "installed $version into $dest"
echo "set ACTIONS_RUNNER_CONTAINER_HOOKS=$dest/hook.sh (no Node needed);"
echo "$dest/index.js serves configurations that point at index.js."
