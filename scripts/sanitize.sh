#!/bin/sh
# sanitize.sh [address|undefined|thread|all] - sanitizer builds of PERM and
# the tests that exercise them (README.PERM, section 17).  Each mode has its
# own build directory, $SANITIZE_DIR/MODE (default build-san/MODE),
# configured with -DPERM_SANITIZE=MODE; every finding is fatal, so a finding
# is a failed test.  Ends with one line per mode, "MODE: ok" or
# "MODE: FAILED".
#
#   address    ASan + UBSan in the perm tool and the image code; the lit
#              suites that run the perm tool (test/tools, test/runtime,
#              test/compat, test/stress)
#   undefined  UBSan in the runtime (shared, -shared-libsan), the preload
#              library, the tool and the image code; the same suites and
#              test/examples
#   thread     TSan in the runtime (shared, -shared-libsan); the
#              multithreaded tests (test/runtime/threads.c, fork.c,
#              test/stress), compiled with -fsanitize=thread and linked
#              as lit cannot link them (see run_thread below)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${SANITIZE_DIR:-$root/build-san}
lit="python3 /usr/lib/llvm-19/build/utils/lit/lit.py"
modes=${1:-all}
if [ "$modes" = all ]; then modes="address undefined thread"; fi

configure() {
  "$root/scripts/setup.sh"
  cmake -S "$root" -B "$prefix/$1" -G Ninja -DCMAKE_C_COMPILER=clang-19 \
    -DCMAKE_CXX_COMPILER=clang++-19 -DPERM_SANITIZE="$1" >/dev/null
}

run_address() {
  b=$prefix/address
  configure address
  ninja -C "$b" -j2
  # Leaks count: the tool frees what it allocates.
  ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
    $lit -sv "$b/test/tools" "$b/test/runtime" "$b/test/compat" \
    "$b/test/stress"
}

run_undefined() {
  b=$prefix/undefined
  configure undefined
  ninja -C "$b" -j2
  UBSAN_OPTIONS=print_stacktrace=1 \
    $lit -sv "$b/test/tools" "$b/test/runtime" "$b/test/compat" \
    "$b/test/stress" "$b/test/examples"
}

# TSan must see the runtime's locks, and the runtime must own malloc.  So
# the program is linked with the runtime first and TSan's shared runtime
# second: in symbol lookup, malloc comes from libpermrt (TSan's would take
# every allocation out of the persistent heap) and pthread_mutex_lock and
# the other interceptors from TSan, before libc.  lit's %ldflags cannot say
# this, and an LD_PRELOAD would also load TSan into clang and FileCheck;
# so the tests' RUN lines are repeated here.
run_thread() {
  b=$prefix/thread
  configure thread
  ninja -C "$b" -j2 permrt perm-tool
  tsan=$(clang-19 -print-file-name=libclang_rt.tsan-x86_64.so)
  t=$b/tsan-tests
  rm -rf "$t" && mkdir -p "$t"
  # Each thread's first allocation is glibc's, made inside TSan's thread
  # start (pthread_getattr_np, for the stack's bounds), before TSan follows
  # the thread's locks: the runtime's registration of the thread and the
  # region's bookkeeping it reaches run under their mutexes, which TSan does
  # not see there.  Those functions only (README.PERM, section 17).
  printf '%s\n' race:perm__heap_register_self race:region_place \
    race:perm__region_alloc race:heap_gate_close >"$t/tsan.supp"
  # detect_deadlocks=0: the deadlock detector's first look at a mutex
  # taken in the fork's prepare handler (jemalloc's, with the allocator's
  # gate closed) calls pthread_getattr_np, whose malloc waits for the gate:
  # a hang.  halt_on_error=1: the first report fails the run.
  export TSAN_OPTIONS="halt_on_error=1:detect_deadlocks=0:suppressions=$t/tsan.supp"
  for src in runtime/threads.c runtime/fork.c stress/Inputs/stress.c; do
    name=$(basename "$src" .c)
    clang-19 -fsanitize=thread -g -O1 -Wall -pthread -I"$root/include" \
      -c "$root/test/$src" -o "$t/$name.o"
    clang-19 -pthread "$t/$name.o" -L"$b/lib" -Wl,-rpath,"$b/lib" \
      -Wl,--no-as-needed -lpermrt "$tsan" \
      -Wl,-rpath,"$(dirname "$tsan")" -o "$t/$name.exe"
  done
  cd "$t"
  mkdir threads fork stress
  echo "tsan: threads.c"
  ./threads.exe threads/img >threads/out
  for i in 1 2 3 4 5 6 7 8 9; do ./threads.exe threads/img >>threads/out; done
  grep -q '3 checkpoints taken while 4 threads ran' threads/out
  [ "$(grep -c 'objects verified, growth ok' threads/out)" -eq 9 ]
  echo "tsan: fork.c"
  ./fork.exe fork | grep -q 'all ok'
  ./fork.exe fork restore | grep -q 'restored second.img: 3000 objects ok'
  echo "tsan: stress.c"
  for mode in "" i; do
    ./stress.exe stress/s$mode.img run 3 $mode | grep -q 'more than one checkpoint'
    ./stress.exe stress/s$mode.img verify | grep -q 'allocated as recorded'
    ./stress.exe stress/s$mode.img.prev verify | grep -q 'taken under load'
    for i in 1 2 3 4 5; do ./stress.exe stress/g$mode.img gen $mode; done >stress/g$mode.out
    grep -q 'generation 4 ok' stress/g$mode.out
  done
}

# One mode per process, so that set -e holds inside it.
if [ "${1:-}" = --one ]; then
  "run_$2"
  exit 0
fi
summary=""
status=0
for mode in $modes; do
  case $mode in
  address | undefined | thread) ;;
  *)
    echo "usage: sanitize.sh [address|undefined|thread|all]" >&2
    exit 2
    ;;
  esac
  if sh "$0" --one "$mode"; then
    summary="$summary$mode: ok
"
  else
    summary="$summary$mode: FAILED
"
    status=1
  fi
done
printf '%s' "$summary"
exit $status
