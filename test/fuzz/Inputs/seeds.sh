#!/bin/sh
# seeds.sh CLANG SRC INCLUDE LIBDIR DIR - the fuzzer's seed corpus, made in
# DIR/seeds from real images of Inputs/seedprog.c (a full image, a chain of
# a full image and two deltas, a delta whose own parent is there), each
# shrunk to about 100 KiB (Inputs/shrink.c), a version 1 image made from
# one, a file that holds a header only; and, whole, DIR/real-full and
# DIR/real-chain.
set -eu
clang=$1 dir=$5
# Relative paths would break at the cd below.
src=$(cd "$2" && pwd) inc=$(cd "$3" && pwd) lib=$(cd "$4" && pwd)
in=$src/test/fuzz/Inputs
rm -rf "$dir" && mkdir -p "$dir/seeds" "$dir/img" "$dir/small"
cd "$dir"
"$clang" -I"$inc" -g -O1 -Wall "$in/seedprog.c" -L"$lib" -Wl,-rpath,"$lib" \
  -lpermrt -o seedprog
"$clang" -Wall -Wextra -I"$src/runtime" "$in/shrink.c" -lxxhash -o shrink
./seedprog img/full.img full
PERM_CHAIN_RATIO=100 ./seedprog img/chain.img chain # small: never folded
./shrink img/full.img seeds/full
./shrink img/chain.img small/chain.img 6
./shrink img/chain.img.prev small/prev 6
python3 "$in/pack.py" seeds/chain small/chain.img
python3 "$in/pack.py" seeds/prev small/prev
./shrink --v1 img/full.img seeds/v1
head -c 4096 img/full.img >seeds/header-only
cp img/full.img real-full
python3 "$in/pack.py" real-chain img/chain.img
