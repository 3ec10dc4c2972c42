#!/usr/bin/env python3
"""Drives incprog through generations of incremental checkpoints.

  incremental.py PROGRAM PERM GENERATIONS COMPACT_AT...

Each generation: one step (restore, verify, change, checkpoint), then a
lazy and an eager restore in new processes that verify every object and
the allocator's allocated bytes, and 'perm check'.  At the generations
named, 'perm compact' folds the chain first.  Prints one summary line.
"""
import os
import re
import subprocess
import sys


def run(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p.stdout


def main():
    prog, perm, gens = sys.argv[1], sys.argv[2], int(sys.argv[3])
    compact_at = {int(g) for g in sys.argv[4:]}
    env = dict(os.environ, PERM_SIZE="256M")
    eager = dict(os.environ, PERM_RESTORE="eager")
    kinds, full_bytes, delta_bytes, compacted = [], [], [], []
    for g in range(1, gens + 1):
        if g in compact_at:
            out = run([perm, "compact", "img"])
            if "folded from a chain of" not in out:
                sys.exit(f"generation {g}: compact did not fold: {out}")
            compacted.append(g - 1)
        out = run([prog, "img", "step"], env)
        m = re.search(r"generation (\d+): (\w+), chain (\d+), (\d+) bytes "
                      r"dirtied, (\d+) bytes of data written", out)
        if not m or int(m.group(1)) != g:
            sys.exit(f"generation {g}: unexpected output {out}")
        kinds.append(m.group(2))
        (delta_bytes if m.group(2) == "delta" else full_bytes).append(
            int(m.group(5)))
        want = f"verified generation {g}: 110000 objects, allocated equal"
        for e, how in ((os.environ, "lazy"), (eager, "eager")):
            out = run([prog, "img", "verify"], e)
            if want not in out:
                sys.exit(f"generation {g}, {how} restore: {out}")
        run([perm, "check", "--quiet", "img"])
    deltas = kinds.count("delta")
    ratio = max(delta_bytes) / min(full_bytes) if delta_bytes else 1.0
    print(f"{gens} generations: {deltas} deltas, {len(kinds) - deltas} full; "
          f"every restore verified, lazy and eager; compacted after "
          f"{','.join(map(str, compacted))}; largest delta "
          f"{'under' if ratio < 0.25 else 'OVER'} 25% of a full image")
    print("kinds " + " ".join(kinds))


if __name__ == "__main__":
    main()
