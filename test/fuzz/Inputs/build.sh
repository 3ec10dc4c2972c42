#!/bin/sh
# build.sh CLANG SRC OUT - the fuzz target: Inputs/image_fuzz.c with the
# sources of the permimage library that restore and the tools read images
# with, under libFuzzer, ASan and UBSan (every UBSan finding fatal).  Only
# the library's sources carry libFuzzer's coverage: the harness's own
# loops would fill the corpus with inputs that are new to it only.
set -eu
clang=$1 src=$2 out=$3
rt=$src/runtime
san="-fsanitize=address,undefined -fno-sanitize-recover=all -g -O1"
"$clang" $san -Wall -Wextra -Werror -I"$rt" -c \
  "$src/test/fuzz/Inputs/image_fuzz.c" -o "$out.harness.o"
exec "$clang" $san -fsanitize=fuzzer -Wall -Wextra -Werror -I"$rt" \
  "$out.harness.o" "$rt/image_read.c" "$rt/image_validate.c" \
  "$rt/image_chain.c" "$rt/error.c" "$rt/sys.c" "$rt/interpose_none.c" \
  -lxxhash -o "$out"
