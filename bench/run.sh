#!/bin/sh
# bench/run.sh [--quick] [BUILD_DIR]
#
# Runs the PERM benchmarks against their peers in one run and prints markdown
# tables (medians, with [min-max] and the number of samples).  It builds
# nothing: build first, e.g.
#
#   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
#   ninja -C build perm-bench
#   bench/run.sh build            (or PERM_BUILD_DIR=build bench/run.sh)
#
# Samples are taken in rounds that interleave the peers (PERM, system
# jemalloc, glibc; checkpoint, write()+fsync, dd), so a noisy neighbour
# slows all of them alike instead of one.  Environment:
#   PERM_BUILD_DIR     build directory (default: ../build from this script)
#   PERM_BENCH_DIR     where images and files are written (default /var/tmp)
#   PERM_BENCH_JEMALLOC  the system jemalloc to preload
#                      (default /usr/lib/x86_64-linux-gnu/libjemalloc.so.2)
#   PERM_BENCH_ROUNDS  rounds (default 6, 3 with --quick)
#   PERM_BENCH_RAW     if set, a file that receives every RESULT line
# Cold-cache restores drop the page cache (echo 3 > /proc/sys/vm/drop_caches)
# when this may (root); otherwise they are skipped.
set -eu

usage() {
  sed -n '2,/^set -eu/p' "$0" | sed -e '/^set -eu/d' -e 's/^# \{0,1\}//'
  exit "$1"
}

quick=0
build=${PERM_BUILD_DIR:-}
for arg; do
  case $arg in
  --quick) quick=1 ;;
  -h | --help) usage 0 ;;
  -*) echo "run.sh: unknown option $arg" >&2; usage 2 ;;
  *) build=$arg ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
[ -n "$build" ] || build=$here/../build
bin=$build/bin
jemalloc=${PERM_BENCH_JEMALLOC:-/usr/lib/x86_64-linux-gnu/libjemalloc.so.2}
for b in perm-bench-alloc perm-bench-alloc-base perm-bench-checkpoint; do
  if [ ! -x "$bin/$b" ]; then
    echo "run.sh: $bin/$b not found: build it first (ninja -C $build perm-bench)" >&2
    exit 1
  fi
done
if [ ! -r "$jemalloc" ]; then
  echo "run.sh: $jemalloc not found: install libjemalloc2, or set PERM_BENCH_JEMALLOC" >&2
  exit 1
fi

if [ $quick = 1 ]; then
  rounds=${PERM_BENCH_ROUNDS:-3}
  qflag=--quick
  heap_mib=256
else
  rounds=${PERM_BENCH_ROUNDS:-6}
  qflag=
  heap_mib=1024
fi
work=$(mktemp -d "${PERM_BENCH_DIR:-/var/tmp}/perm-bench.XXXXXX")
raw=$work/results.tsv
log=$work/log
: >"$raw"
: >"$log"
cleanup() {
  st=$?
  if [ $st != 0 ]; then
    echo "run.sh: failed; the last lines of the benchmarks' log:" >&2
    tail -n 20 "$log" >&2
  fi
  rm -rf "$work"
  exit $st
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ns() { date +%s%N; }
# RESULT line for a time measured here: bench label metric ms
result_ms() {
  printf 'RESULT\t%s\t%s\t%s\tms\t%s\t%s\t%s\t1\t%s\n' "$1" "$2" "$3" "$4" "$4" "$4" "$4" >>"$raw"
}
can_drop=0
if (sync && echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then can_drop=1; fi
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
fs=$(df -T "$work" | awk 'NR == 2 { print $2 " (" $1 ", mounted on " $7 ")" }')
thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
jever=$(dpkg-query -W -f '${Version}' libjemalloc2 2>/dev/null || echo '?')
glibcver=$(ldd --version 2>/dev/null | sed -n '1s/.* //p')
load0=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)

echo "### PERM benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- command: \`bench/run.sh${qflag:+ $qflag} $build\` ($rounds rounds)"
echo "- machine: $(nproc) CPUs ($cpu), $mem RAM, kernel $(uname -r), THP \`$thp\`"
echo "- files: $work on $fs"
if [ $can_drop = 1 ]; then
  echo "- page cache dropped before each timed write and each cold restore"
fi
echo "- peers: glibc $glibcver; system jemalloc $jever ($jemalloc); compiler ${cc:-?}, bench code -O2"
echo

#---------------------------------------------------------------- alloc ---
# Each round runs the three allocators once, starting with a different one.
echo "run.sh: malloc/free, $rounds rounds" >&2
for r in $(seq 1 "$rounds"); do
  for k in 0 1 2; do
    case $(((r + k) % 3)) in
    0) "$bin/perm-bench-alloc" --reps 2 $qflag >>"$raw" 2>>"$log" ;;
    1) LD_PRELOAD=$jemalloc "$bin/perm-bench-alloc-base" --reps 2 $qflag >>"$raw" 2>>"$log" ;;
    2) "$bin/perm-bench-alloc-base" --reps 2 $qflag >>"$raw" 2>>"$log" ;;
    esac
  done
done
# The baseline binary checks who served it; a failed preload must not pass as jemalloc.
if ! grep -q '	jemalloc	' "$raw" || ! grep -q '	glibc	' "$raw" || ! grep -q '	perm	' "$raw"; then
  echo "run.sh: an allocator did not report (see below)" >&2
  cat "$log" >&2
  exit 1
fi

#----------------------------------------------------- checkpoint, restore ---
# Each round: a fresh process builds the heap (same seed, same bytes), takes
# a checkpoint, writes the same chunks with write()+fsync (same commit
# protocol) and takes an async checkpoint, in an order that rotates from
# round to round; then dd; then restores of the image in new processes.
# Every writer creates a new file while its previous one still exists and
# frees that one afterwards, as the image commit does.  When it may, it drops
# the page cache before each timed write (PERM_BENCH_DROP_CACHES): on the VM
# these figures come from, a buffered write into memory that was not just
# freed by the page cache costs up to ~2 s/GiB more, so without it a writer's
# time depended mostly on what ran before it (bench/RESULTS.md).
echo "run.sh: checkpoint and restore of a $heap_mib MiB heap, $rounds rounds" >&2
ckdir=$work/ckpt
mkdir -p "$ckdir"
img=$ckdir/heap.img
restore() { # label, then environment assignments
  label=$1
  shift
  env "$@" "$bin/perm-bench-checkpoint" --image "$img" --label "$label" restore >>"$raw" 2>>"$log"
}
for r in $(seq 1 "$rounds"); do
  case $((r % 3)) in
  0) order="checkpoint write_fsync checkpoint_async" ;;
  1) order="write_fsync checkpoint_async checkpoint" ;;
  2) order="checkpoint_async checkpoint write_fsync" ;;
  esac
  # shellcheck disable=SC2086 # $order is a list of benchmark names
  PERM_BENCH_DROP_CACHES=$can_drop \
    "$bin/perm-bench-checkpoint" $qflag --reps 1 --dir "$ckdir" $order >>"$raw" 2>>"$log"
  # A new file while the previous one still exists, as for the image.
  if [ $can_drop = 1 ]; then drop_caches; fi
  t0=$(now_ns)
  dd if=/dev/zero of="$ckdir/dd.$r" bs=1M count=$heap_mib conv=fsync status=none
  t1=$(now_ns)
  rm -f "$ckdir/dd.$((r - 1))"
  result_ms dd dd durable "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')"

  for cache in warm cold; do
    [ $cache = warm ] || [ $can_drop = 1 ] || continue
    for how in lazy eager; do
      for verify in full metadata; do
        if [ $cache = warm ]; then cat "$img" >/dev/null; else drop_caches; fi
        restore "$how,$verify,$cache" PERM_RESTORE=$how PERM_VERIFY=$verify
      done
    done
    if [ $cache = warm ]; then cat "$img" >/dev/null; else drop_caches; fi
    "$bin/perm-bench-checkpoint" --image "$img" --label $cache read_file >>"$raw" 2>>"$log"
  done
done
grep -h 'heap of' "$log" | head -n 1 | sed 's/^perm-bench-checkpoint: /- checkpoint heap: /'
echo "- load average before: $load0; after: $(cut -d' ' -f1-3 /proc/loadavg); run time $(($(date +%s) - t_start)) s"
echo

#---------------------------------------------------------------- tables ---
# Every sample of every (benchmark, label, metric) pooled; median, min, max.
awk -F '\t' -v heap_mib="$heap_mib" -v can_drop="$can_drop" '
$1 != "RESULT" { next }
{
  k = $2 SUBSEP $3 SUBSEP $4
  ns = split($10, s, ",")
  for (i = 1; i <= ns; i++) { v[k, ++n[k]] = s[i] + 0; o[k, n[k]] = s[i] + 0 }
}
function sortk(k,   i, j, t) {
  for (i = 2; i <= n[k]; i++) {
    t = v[k, i]
    for (j = i - 1; j >= 1 && v[k, j] > t; j--) v[k, j + 1] = v[k, j]
    v[k, j + 1] = t
  }
}
function med(b, l, m,   k, c) {
  k = b SUBSEP l SUBSEP m
  if (!(k in n)) return -1
  if (!(k in sorted)) { sortk(k); sorted[k] = 1 }
  c = n[k]
  return c % 2 ? v[k, (c + 1) / 2] : (v[k, c / 2] + v[k, c / 2 + 1]) / 2
}
function cell(b, l, m, scale, fmt,   k, x) {
  x = med(b, l, m)
  if (x < 0) return "-"
  k = b SUBSEP l SUBSEP m
  return sprintf(fmt " [" fmt "-" fmt "] n=%d", x / scale, v[k, 1] / scale, v[k, n[k]] / scale, n[k])
}
# Ratio of the medians, then the median [min-max] of the ratios of samples
# taken in the same round (sample i of both ran minutes apart at most).
function ratio(b, l1, l2,   a, c, k1, k2, m, i, j, t, r) {
  a = med(b, l1, "throughput"); c = med(b, l2, "throughput")
  if (a <= 0 || c <= 0) return "-"
  k1 = b SUBSEP l1 SUBSEP "throughput"; k2 = b SUBSEP l2 SUBSEP "throughput"
  m = n[k1] < n[k2] ? n[k1] : n[k2]
  for (i = 1; i <= m; i++) r[i] = o[k1, i] / o[k2, i]
  for (i = 2; i <= m; i++) {
    t = r[i]
    for (j = i - 1; j >= 1 && r[j] > t; j--) r[j + 1] = r[j]
    r[j + 1] = t
  }
  t = m % 2 ? r[(m + 1) / 2] : (r[m / 2] + r[m / 2 + 1]) / 2
  return sprintf("%.2f (paired %.2f [%.2f-%.2f])", a / c, t, r[1], r[m])
}
END {
  print "#### malloc/free throughput (million ops/s; op = one malloc + one free)"
  print ""
  print "| workload | PERM | jemalloc | glibc | PERM/jemalloc | PERM/glibc |"
  print "|---|---|---|---|---|---|"
  split("small64 mixed large threads2", wl, " ")
  desc["small64"] = "64 B malloc+free pairs"
  desc["mixed"] = "16 B-4 KiB, 100k live, random replace"
  desc["large"] = "16 KiB-1 MiB, 1000 live, random replace"
  desc["threads2"] = "2 threads x mixed (aggregate)"
  for (i = 1; i <= 4; i++) {
    w = wl[i]
    printf "| %s: %s | %s | %s | %s | %s | %s |\n", w, desc[w],
      cell(w, "perm", "throughput", 1e6, "%.1f"),
      cell(w, "jemalloc", "throughput", 1e6, "%.1f"),
      cell(w, "glibc", "throughput", 1e6, "%.1f"),
      ratio(w, "perm", "jemalloc"), ratio(w, "perm", "glibc")
  }
  print ""
  printf "#### checkpoint of a %d MiB heap (ms unless stated)\n\n", heap_mib
  print "| what | pause (caller stopped) | until durable | notes |"
  print "|---|---|---|---|"
  printf "| `perm_checkpoint()` | %s | %s | image %s MiB (on disk %s MiB) |\n",
    cell("checkpoint", "perm", "pause", 1, "%.1f"),
    cell("checkpoint", "perm", "durable", 1, "%.0f"),
    sprintf("%.0f", med("checkpoint", "perm", "image")),
    sprintf("%.0f", med("checkpoint", "perm", "image_on_disk"))
  printf "| `perm_checkpoint_async()` + `perm_wait()` | %s | %s | the call returned in %s |\n",
    cell("checkpoint_async", "perm", "pause", 1, "%.1f"),
    cell("checkpoint_async", "perm", "durable", 1, "%.0f"),
    cell("checkpoint_async", "perm", "call", 1, "%.1f")
  printf "| `write()`+`fsync()` of the same chunks, from the program | (all of it) | %s | write() part %s |\n",
    cell("write_fsync", "perm", "durable", 1, "%.0f"),
    cell("write_fsync", "perm", "write_only", 1, "%.0f")
  printf "| `dd if=/dev/zero bs=1M count=%d conv=fsync` | (all of it) | %s | zeros, a new process |\n",
    heap_mib, cell("dd", "dd", "durable", 1, "%.0f")
  print ""
  print "#### restore of that image (ms, in a new process: the `perm_open` call / the call plus a first read of every heap page)"
  print ""
  print "| what | warm page cache | cold page cache |"
  print "|---|---|---|"
  split("lazy,full lazy,metadata eager,full eager,metadata", rv, " ")
  for (i = 1; i <= 4; i++) {
    split(rv[i], hv, ",")
    for (c = 1; c <= 2; c++) {
      l = rv[i] "," (c == 1 ? "warm" : "cold")
      rc[c] = cell("restore", l, "perm_open", 1, "%.0f") " / " sprintf("%.0f", med("restore", l, "open_and_touch"))
      if (med("restore", l, "perm_open") < 0) rc[c] = "-"
    }
    printf "| `perm_open(r+)`, `PERM_RESTORE=%s PERM_VERIFY=%s` | %s | %s |\n", hv[1], hv[2], rc[1], rc[2]
  }
  printf "| `read()` of the whole image file into fresh memory | %s | %s |\n",
    cell("read_file", "warm", "read", 1, "%.0f"),
    cell("read_file", "cold", "read", 1, "%.0f")
  if (!can_drop) print "\n(cold cache skipped: /proc/sys/vm/drop_caches is not writable here)"
}' "$raw"
if [ -n "${PERM_BENCH_RAW:-}" ]; then cp "$raw" "$PERM_BENCH_RAW"; fi
