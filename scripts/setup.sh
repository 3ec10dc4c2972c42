#!/bin/sh
# setup.sh - installs what PERM needs on Debian 12, when missing (as root or
# with sudo).  Everything comes from Debian's own packages: nothing is
# downloaded from elsewhere, nothing is vendored.
set -eu

# libclang-rt-19-dev: libFuzzer and the sanitizers' runtimes (test/fuzz,
# scripts/sanitize.sh); libmimalloc2.0 and libtcmalloc-minimal4: allocators
# that bench/ measures PERM against; libelf-dev: perm info --binary reads a
# program's registry from its ELF file; make and pkgconf: the out-of-tree
# consumer test (examples/consumer) builds with them.
packages="clang-19 libclang-19-dev llvm-19-dev llvm-19-tools lld-19 \
libclang-rt-19-dev libjemalloc-dev libxxhash-dev libelf-dev cmake ninja-build \
make pkgconf python3 gcc g++ openmpi-bin libopenmpi-dev util-linux \
libmimalloc2.0 libtcmalloc-minimal4"

missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1; then
  sudo="sudo"
else
  echo "setup.sh: these Debian packages are missing:$missing" >&2
  echo "setup.sh: run this script as root (or install sudo) to install them" >&2
  exit 1
fi
echo "setup.sh: installing$missing"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
