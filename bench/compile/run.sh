#!/bin/sh
# bench/compile/run.sh - the compile-time cost of the PERM plugin.
#
# Times "clang-19 -c" of a generated ~20k-line C file (gen.py) with and
# without -fplugin=libperm.so, at -O2 and -O0, and prints the medians.
#
#   bench/compile/run.sh [PLUGIN] [RUNS] [LINES]
#
# PLUGIN  path of libperm.so (default: build/lib/libperm.so)
# RUNS    runs per configuration, at least 5 (default: 11)
# LINES   size of the generated file (default: 20000)
#
# Uses hyperfine when it is installed, else a loop timed with date +%s%N.
# Runs alternate between the configurations so that drift of the machine
# (frequency, cache) affects both alike.
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

# time_ms CMD...: wall-clock milliseconds of one run of CMD.
time_ms() {
  t0=$(date +%s%N)
  "$@" >/dev/null
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}

echo "clang: $($clang --version | head -1)"
echo "file: $nlines lines, $entries PERM variables; $runs runs per configuration"
echo "host: $(nproc) CPUs, $(uname -sr)"
echo

if command -v hyperfine >/dev/null 2>&1; then
  for opt in -O2 -O0; do
    hyperfine --warmup 1 --runs "$runs" --export-json "$work/h$opt.json" \
      -n "plain $opt" "$clang $opt -c $work/big.c -o $work/a.o" \
      -n "plugin $opt" "$clang -fplugin=$plugin $opt -c $work/big.c -o $work/b.o" \
      >/dev/null
    python3 - "$work/h$opt.json" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))["results"]
print("%-10s %10.0f %10.0f %+8.1f%%" % (
    r[0]["command"].split()[1], statistics.median(r[0]["times"]) * 1000,
    statistics.median(r[1]["times"]) * 1000,
    (statistics.median(r[1]["times"]) / statistics.median(r[0]["times"]) - 1) * 100))
PY
  done
  exit 0
fi

printf '%-6s %12s %12s %9s\n' level "plain (ms)" "plugin (ms)" overhead
for opt in -O2 -O0; do
  : >"$work/plain$opt"
  : >"$work/plugin$opt"
  # One warm-up run of each, not counted.
  $clang $opt -c "$work/big.c" -o "$work/a.o"
  $clang -fplugin="$plugin" $opt -c "$work/big.c" -o "$work/b.o"
  i=0
  while [ $i -lt "$runs" ]; do
    time_ms $clang $opt -c "$work/big.c" -o "$work/a.o" >>"$work/plain$opt"
    time_ms $clang -fplugin="$plugin" $opt -c "$work/big.c" -o "$work/b.o" \
      >>"$work/plugin$opt"
    i=$((i + 1))
  done
  p=$(median "$work/plain$opt")
  q=$(median "$work/plugin$opt")
  printf '%-6s %12s %12s %8s%%\n' "$opt" "$p" "$q" \
    "$(awk -v p="$p" -v q="$q" 'BEGIN { printf "%+.1f", (q / p - 1) * 100 }')"
done
