#!/bin/sh
# build.sh CLANG SRC OUT - the fuzz target: Inputs/image_fuzz.c with the
# sources of the permimage library that restore and the tools read images
# with, under libFuzzer, ASan and UBSan (every UBSan finding fatal).
set -eu
clang=$1 src=$2 out=$3
rt=$src/runtime
exec "$clang" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -g -O1 -Wall -Wextra -Werror -I"$rt" "$src/test/fuzz/Inputs/image_fuzz.c" \
  "$rt/image_read.c" "$rt/image_validate.c" "$rt/image_chain.c" \
  "$rt/error.c" "$rt/sys.c" "$rt/interpose_none.c" -lxxhash -o "$out"
