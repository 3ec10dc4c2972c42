#!/usr/bin/env python3
"""Drives incprog through generations of incremental checkpoints.

  incremental.py PROGRAM PERM GENERATIONS COMPACT_AT...

Each generation: one step (restore, verify, change, checkpoint), then a
lazy, an eager and a layered restore (PERM_TEST_MAP_LIMIT) in new processes
that verify every object and the allocator's allocated bytes, and 'perm
check'.  At the generations
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
    # As if the process could map 100 pieces: a delta's chain is restored
    # layered (the full image mapped, the deltas read over it).
    layered = dict(os.environ, PERM_TEST_MAP_LIMIT="100", PERM_VERBOSE="1")
    kinds, full_bytes, delta_bytes, compacted = [], [], [], []
    nlayered = 0
    plain = dict(os.environ, PERM_VERBOSE="1")
    ways = {"layered": 0, "pieces": 0}
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
        for e, how in ((plain, "lazy"), (eager, "eager"),
                       (layered, "layered")):
            p = subprocess.run([prog, "img", "verify"], capture_output=True,
                               text=True, env=e)
            if p.returncode != 0 or want not in p.stdout:
                sys.exit(f"generation {g}, {how} restore: {p.stdout}{p.stderr}")
            if how == "lazy" and m.group(2) == "delta":
                # A mapping per piece, or layered: whichever is fewer
                # operations; both happen along the chain.
                ways["layered" if "mapping the full image's" in p.stderr
                     else "pieces"] += 1
            if how != "layered":
                continue
            # A delta's chain is restored layered unless its deltas hold
            # more than half the data; a full image never is.
            took = "mapping the full image's" in p.stderr
            half = "its deltas hold more than half of its data" in p.stderr
            if took:
                nlayered += 1
            ok = took != half if m.group(2) == "delta" else not (took or half)
            if not ok:
                sys.exit(f"generation {g} ({m.group(2)}): layered "
                         f"{took}, deltas over half {half}: {p.stderr}")
        run([perm, "check", "--quiet", "img"])
    deltas = kinds.count("delta")
    ratio = max(delta_bytes) / min(full_bytes) if delta_bytes else 1.0
    print(f"{gens} generations: {deltas} deltas, {len(kinds) - deltas} full; "
          f"every restore verified, lazy, eager and layered; compacted after "
          f"{','.join(map(str, compacted))}; largest delta "
          f"{'under' if ratio < 0.25 else 'OVER'} 25% of a full image")
    print("kinds " + " ".join(kinds))
    print(f"layered restores {nlayered}")
    print(f"lazy restores of deltas: {ways['layered']} layered, "
          f"{ways['pieces']} a mapping per piece")


if __name__ == "__main__":
    main()
