#!/bin/sh
# mkprivate.sh ARCHIVE OUTPUT.o SRCDIR WORKDIR
#
# Turns Debian's unmodified libjemalloc_pic.a (5.3.0) into one relocatable
# object holding a private jemalloc instance (README.PERM, "The private
# jemalloc"):
#   - all objects but the C++ operators are partially linked with private.ld,
#     which gathers jemalloc's writable state into permje_data / permje_bss;
#   - the public API (public.syms) and the internals the runtime drives
#     (internal.syms) are renamed to permje_*; every other symbol is made
#     local, so the instance can sit next to any other malloc;
#   - the system calls it would use to get memory or configuration
#     (system.syms) are redirected to permje_sys_* shims in the runtime;
#   - every other call it makes out of itself (calls.syms) goes through a
#     permje_call_* shim (runtime/heap_calls.c) that counts the thread as
#     inside the allocator meanwhile (runtime/safepoint.c);
#   - its constructor is dropped: the runtime initialises it explicitly.
set -eu
archive=$1 out=$2 src=$3 work=$4
expected=5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c

fail() { echo "mkprivate.sh: $*" >&2; exit 1; }
[ -r "$archive" ] || fail "cannot read $archive; install Debian's libjemalloc-dev 5.3.0 (scripts/setup.sh)"

rm -rf "$work" && mkdir -p "$work" && cd "$work"
ar x "$archive" || fail "cannot extract $archive"
version=$(strings -a ctl.pic.o | grep -E '^[0-9]+\.[0-9]+\.[0-9]+-[0-9]+-g[0-9a-f]+$' | head -n 1)
[ "$version" = "$expected" ] ||
  fail "$archive is jemalloc '$version', PERM needs exactly $expected (Debian 12 libjemalloc-dev 5.3.0-1): its internals are driven directly"
for s in $(cat "$src/internal.syms"); do
  nm -g --defined-only *.pic.o | grep -q " $s\$" || fail "$archive lacks the internal symbol $s"
done

objs=$(ls *.pic.o | grep -v '^jemalloc_cpp\.pic\.o$')
ld -r -T "$src/private.ld" -o combined.o $objs

renames=renames.txt keep=keep.txt
: > $renames; : > $keep
for s in $(cat "$src/public.syms"); do
  echo "$s permje_$s" >> $renames; echo "permje_$s" >> $keep
done
for s in $(cat "$src/internal.syms"); do
  n=${s#je_}
  echo "$s permje_$n" >> $renames; echo "permje_$n" >> $keep
done
for s in $(cat "$src/system.syms"); do
  echo "$s permje_sys_$s" >> $renames
done
for s in $(cat "$src/calls.syms"); do
  echo "$s permje_call_$s" >> $renames
done
objcopy --redefine-syms=$renames combined.o renamed.o
objcopy --keep-global-symbols=$keep \
        --remove-section=.init_array --remove-section=.rela.init_array \
        renamed.o "$out"

# Nothing may escape: every defined global must be one we meant to export.
leaked=$(nm -g --defined-only "$out" | awk '{print $3}' | grep -v '^permje_' || true)
[ -z "$leaked" ] || fail "symbols escaped the private instance: $leaked"
for s in mmap munmap madvise mprotect sbrk secure_getenv readlink; do
  if nm -u "$out" | grep -qx "  *U $s"; then fail "$s was not redirected"; fi
done
objdump -h "$out" | grep -q init_array && fail "the constructor was not dropped"
# Every call out of the instance is counted: nothing else may be undefined.
others=$(nm -u "$out" | awk '{print $2}' |
  grep -v -e '^permje_sys_' -e '^permje_call_' -e '^_GLOBAL_OFFSET_TABLE_$' \
          -e '^_Unwind_' || true)
[ -z "$others" ] ||
  fail "calls out of jemalloc not listed in calls.syms (add them and a shim in runtime/heap_calls.c): $others"
exit 0
