#!/bin/sh
# refuse.sh PROG PERM IMAGE: 'perm check' and a restore in modes r+, r and
# r+e (PROG IMAGE MODE open: errprog.c) must each refuse IMAGE with exit
# status 1 (a crash is a signal, or another status), and leave it byte for
# byte unchanged (a sparse file over 64 MiB: its first 64 MiB, its size,
# its allocated blocks and its modification time).  Each reader's output is printed after its name ("check:",
# "r+:", "r:", "r+e:"), then "unchanged".  With REFUSE_ULIMIT_V=KB, the
# readers run under 'ulimit -v KB' (no large allocation can succeed).
prog=$1 perm=$2 img=$3
cp --sparse=always "$img" "$img.before" || exit 2
stat_before=$(stat -c '%s %b %Y' "$img")
size=$(stat -c %s "$img")
rc=0
limit() {
  if [ -n "${REFUSE_ULIMIT_V:-}" ]; then
    ulimit -v "$REFUSE_ULIMIT_V" || exit 3
  fi
  "$@"
}
out=$( (limit "$perm" check "$img") 2>&1); s=$?
printf '%s\n' "$out" | sed 's/^/check: /'
[ "$s" = 1 ] || { echo "perm check exited with status $s"; rc=1; }
for m in r+ r r+e; do
  out=$( (limit "$prog" "$img" "$m" open) 2>&1); s=$?
  printf '%s\n' "$out" | sed "s/^/$m: /"
  [ "$s" = 1 ] || { echo "restore ($m) exited with status $s"; rc=1; }
done
if [ "$size" -gt 67108864 ]; then
  cmp -n 67108864 "$img" "$img.before" &&
    [ "$(stat -c '%s %b %Y' "$img")" = "$stat_before" ]
else
  cmp "$img" "$img.before"
fi
if [ $? = 0 ]; then echo unchanged; else echo changed; rc=1; fi
rm -f "$img.before" "$img.lock"
exit $rc
