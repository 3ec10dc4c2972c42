#!/bin/sh
# bench/compile/run.sh - the compile-time cost of the PERM plugin.
#
# Times "clang-19 -c" of a generated ~20k-line C file (gen.py) with and
# without -fplugin=libperm.so, at -O2 and -O0, and prints the medians of
# wall-clock time and of CPU time (user + system, with GNU time).
#
#   bench/compile/run.sh [PLUGIN] [RUNS] [LINES]
#
# PLUGIN  path of libperm.so (default: build/lib/libperm.so)
# RUNS    runs per configuration, at least 5 (default: 11)
# LINES   size of the generated file (default: 20000)
#
# Uses hyperfine when it is installed, else a loop timed with date +%s%N
# whose runs alternate between the two compilers, so that drift of the
# machine (frequency, cache, other load) affects both alike.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
plugin=${1:-build/lib/libperm.so}
runs=${2:-11}
lines=${3:-20000}
clang=${CLANG:-clang-19}

if [ ! -f "$plugin" ]; then
  echo "run.sh: no plugin at $plugin (build it, or pass its path)" >&2
  exit 1
fi
if [ "$runs" -lt 5 ]; then
  echo "run.sh: RUNS must be at least 5" >&2
  exit 1
fi
plugin=$(cd "$(dirname "$plugin")" && pwd)/$(basename "$plugin")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$here/gen.py" "$lines" >"$work/big.c"
nlines=$(wc -l <"$work/big.c")

# Sanity: the plugin is active and emits the registry for this file.
$clang -fplugin="$plugin" -O2 -S -emit-llvm "$work/big.c" -o "$work/big.ll"
entries=$(grep -c '^@perm.entry' "$work/big.ll" || true)
if [ "$entries" -eq 0 ]; then
  echo "run.sh: the plugin emitted no registry entries" >&2
  exit 1
fi

# median FILE: the median of the numbers in FILE, one per line.
median() {
  sort -n "$1" | awk '{ a[NR] = $1 } END {
    if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# run_once WALL CPU CMD...: run CMD once; append its wall-clock milliseconds
# to WALL and, when GNU time is there, its user+system milliseconds to CPU
# (less sensitive than wall time to other load on the machine).
run_once() {
  wall=$1
  cpu=$2
  shift 2
  t0=$(date +%s%N)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%U %S' -o "$work/cpu.1" "$@" >/dev/null
    awk '{ printf "%d\n", ($1 + $2) * 1000 }' "$work/cpu.1" >>"$cpu"
  else
    "$@" >/dev/null
  fi
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000)) >>"$wall"
}

# pct A B: B relative to A, in percent.
pct() {
  awk -v p="$1" -v q="$2" 'BEGIN { printf "%+.1f%%", (q / p - 1) * 100 }'
}

echo "clang: $($clang --version | head -1)"
echo "file: $nlines lines, $entries PERM variables; $runs runs per configuration"
echo "host: $(nproc) CPUs, $(uname -sr)"
echo

if command -v hyperfine >/dev/null 2>&1; then
  printf '%-6s %11s %11s %9s   %11s %11s %9s\n' level "wall plain" \
    "wall plugin" overhead "cpu plain" "cpu plugin" overhead
  for opt in -O2 -O0; do
    hyperfine --warmup 1 --runs "$runs" --export-json "$work/h$opt.json" \
      -n plain "$clang $opt -c $work/big.c -o $work/a.o" \
      -n plugin "$clang -fplugin=$plugin $opt -c $work/big.c -o $work/b.o" \
      >/dev/null
    # hyperfine reports the mean, not the median, of user and system time.
    python3 - "$work/h$opt.json" "$opt" <<'PY'
import json, sys
plain, plugin = json.load(open(sys.argv[1]))["results"]
def pct(a, b): return "%+.1f%%" % ((b / a - 1) * 100)
wp, wq = plain["median"] * 1000, plugin["median"] * 1000
cp = (plain["user"] + plain["system"]) * 1000
cq = (plugin["user"] + plugin["system"]) * 1000
print("%-6s %11.0f %11.0f %9s   %11.0f %11.0f %9s" %
      (sys.argv[2], wp, wq, pct(wp, wq), cp, cq, pct(cp, cq)))
PY
  done
  echo "(milliseconds; wall: medians, cpu: means of user + system time)"
  exit 0
fi

printf '%-6s %11s %11s %9s   %11s %11s %9s\n' level "wall plain" \
  "wall plugin" overhead "cpu plain" "cpu plugin" overhead
for opt in -O2 -O0; do
  for f in wplain wplugin cplain cplugin; do : >"$work/$f$opt"; done
  # One warm-up run of each, not counted.
  $clang $opt -c "$work/big.c" -o "$work/a.o"
  $clang -fplugin="$plugin" $opt -c "$work/big.c" -o "$work/b.o"
  i=0
  while [ $i -lt "$runs" ]; do
    run_once "$work/wplain$opt" "$work/cplain$opt" \
      $clang $opt -c "$work/big.c" -o "$work/a.o"
    run_once "$work/wplugin$opt" "$work/cplugin$opt" \
      $clang -fplugin="$plugin" $opt -c "$work/big.c" -o "$work/b.o"
    i=$((i + 1))
  done
  wp=$(median "$work/wplain$opt")
  wq=$(median "$work/wplugin$opt")
  if [ -s "$work/cplain$opt" ]; then
    cp=$(median "$work/cplain$opt")
    cq=$(median "$work/cplugin$opt")
    co=$(pct "$cp" "$cq")
  else
    cp=- cq=- co=-
  fi
  printf '%-6s %11s %11s %9s   %11s %11s %9s\n' "$opt" "$wp" "$wq" \
    "$(pct "$wp" "$wq")" "$cp" "$cq" "$co"
done
echo "(milliseconds, medians; cpu = user + system time of the compiler)"
