#!/bin/sh
# demo.sh - sets up, builds, and runs the notebook demo three times in a row:
# the notes and the run counter survive each run (examples/demo/notebook.c).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
"$root/scripts/build.sh" "$build"
img=$(mktemp -d)/notebook.img
for text in "first run" "second run" "third run"; do
  echo "\$ notebook $img \"$text\""
  "$build/bin/notebook" "$img" "$text"
  echo
done
echo "\$ perm info $img"
"$build/bin/perm" info "$img" | head -n 20 || true
