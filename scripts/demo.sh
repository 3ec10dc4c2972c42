#!/bin/sh
# demo.sh - sets up, builds, and runs the showcase (examples/showcase): an
# inverted index over 300,000 generated documents that takes seconds to
# build, is checkpointed, and comes back from its image in milliseconds on
# the next run, answering the same queries the same way; a third run adds
# documents and checkpoints again.  About 15 s after the build.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
"$root/scripts/build.sh" "$build"
PATH=$build/bin:$PATH
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"

# Prints the command, runs it, and says how long the whole process took.
run() {
  echo "\$ $*"
  start=$(date +%s%N)
  "$@"
  end=$(date +%s%N)
  echo "(the whole run took $(( (end - start) / 1000000 )) ms)"
  echo
}

run showcase index.img                  # builds the index, checkpoints
run showcase index.img                  # restores it: nothing rebuilt
run showcase index.img --add 20000      # restores, extends, checkpoints
echo "# the data are verified at restore by default; with PERM_VERIFY=metadata"
echo "# (perm check verifies them offline), a restore does not grow with the heap:"
run env PERM_VERIFY=metadata showcase index.img
# Would this build restore the image?  Read from the ELF file, not run.
echo '$ perm info --binary "$(command -v showcase)" index.img | tail -n 2'
perm info --binary "$(command -v showcase)" index.img | tail -n 2
