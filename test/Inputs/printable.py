#!/usr/bin/env python3
"""Fails when its standard input holds a byte that could drive a terminal:
a control character other than a newline (ESC, BEL, a tab, a carriage
return...) or DEL.  Prints "printable" or the first offending line."""
import sys

data = sys.stdin.buffer.read()
for n, line in enumerate(data.split(b"\n"), 1):
    bad = [b for b in line if b < 0x20 or b == 0x7F]
    if bad:
        sys.exit(f"line {n} holds byte 0x{bad[0]:02x}: {line!r}")
print("printable")
