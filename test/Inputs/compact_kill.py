#!/usr/bin/env python3
"""Kills 'perm compact' with SIGKILL at random instants, TRIALS times: after
each kill the image (a compacted one or the chain) must pass 'perm check'
and restore to the same generation, and so must IMAGE.prev.

  compact_kill.py PROGRAM PERM IMAGE TRIALS

PROGRAM is crashprog: 'PROGRAM IMAGE loop' grows a chain of incremental
images until killed, 'PROGRAM IMAGE verify' prints the generation it finds.
"""
import os
import random
import re
import signal
import subprocess
import sys
import time


def generation(prog, image):
    v = subprocess.run([prog, image, "verify"], capture_output=True, text=True)
    m = re.search(r"generation (\d+)", v.stdout)
    if v.returncode != 0 or not m:
        sys.exit(f"'{image}' does not restore: {v.stdout}{v.stderr}")
    return int(m.group(1))


def check(perm, image):
    c = subprocess.run([perm, "check", "--quiet", image], capture_output=True,
                       text=True)
    if c.returncode != 0:
        sys.exit(f"perm check '{image}' failed: {c.stderr}")


def main():
    prog, perm, image, trials = sys.argv[1:4] + [int(sys.argv[4])]
    rng = random.Random(int(os.environ.get("CRASH_SEED", "1")))
    env = dict(os.environ, PERM_INCREMENTAL="1", PERM_CHAIN_MAX="1000",
               PERM_CHAIN_RATIO="1000")
    folded = kept = 0
    for trial in range(trials):
        # A few more deltas, so there is a chain to fold.
        p = subprocess.Popen([prog, image, "loop"], env=env,
                             stdout=subprocess.DEVNULL, start_new_session=True)
        time.sleep(rng.uniform(0.05, 0.15))
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        if not os.path.exists(image):
            continue
        before = generation(prog, image)
        c = subprocess.Popen([perm, "compact", "--quiet", image],
                             start_new_session=True)
        time.sleep(rng.uniform(0.0, 0.04))
        os.killpg(c.pid, signal.SIGKILL)
        c.wait()
        check(perm, image)
        after = generation(prog, image)
        if after != before:
            sys.exit(f"trial {trial}: generation {after} after a compaction "
                     f"of generation {before}")
        if os.path.exists(image + ".prev"):
            check(perm, image + ".prev")
        info = subprocess.run([perm, "info", image], capture_output=True,
                              text=True).stdout
        if "kind:         full" in info:
            folded += 1
        else:
            kept += 1
    print(f"{trials} compactions killed: every image checked and restored "
          f"to its generation ({folded} folded, {kept} chains kept)")


if __name__ == "__main__":
    main()
