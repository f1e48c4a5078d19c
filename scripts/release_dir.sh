#!/bin/sh
# Lays out a release folder as the release workflow publishes it: the given kubehook binaries
# (named kubehook-<target>), the shims hook.sh and hook.js, install.sh, and SHA256SUMS over all
# of them, which install.sh verifies before it installs anything.
#   sh scripts/release_dir.sh OUT_DIR dist/kubehook-x86_64-unknown-linux-gnu [...]
set -eu
[ $# -ge 2 ] || {
  echo "usage: sh scripts/release_dir.sh OUT_DIR BINARY..." >&2
  exit 2
}
out=$1
shift
scripts=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
for binary in "$@"; do
  case "$(basename "$binary")" in
    kubehook-*-unknown-linux-gnu) cp "$binary" "$out/" ;;
    *)
      echo "release_dir.sh: $binary is not named kubehook-<target> (e.g. kubehook-x86_64-unknown-linux-gnu)." >&2
      exit 1
      ;;
  esac
done
cp "$scripts/hook.sh" "$scripts/hook.js" "$scripts/install.sh" "$out/"
cd "$out"
sha256sum kubehook-* hook.sh hook.js install.sh > SHA256SUMS
cat SHA256SUMS
