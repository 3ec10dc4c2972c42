#!/bin/sh
# test.sh - sets up, builds, and runs the whole lit suite; ends with a line
# "N passed, N failed, N skipped" for CI.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
"$root/scripts/build.sh" "$build"
xml="$build/test/results.xml"
rc=0
python3 /usr/lib/llvm-19/build/utils/lit/lit.py -sv --xunit-xml-output "$xml" \
  "$build/test" || rc=$?
python3 - "$xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.iter("testcase")
passed = failed = skipped = 0
for c in cases:
    if c.find("failure") is not None or c.find("error") is not None:
        failed += 1
    elif c.find("skipped") is not None:
        skipped += 1
    else:
        passed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $rc
