#!/usr/bin/env python3
"""Kills a checkpointing program with SIGKILL at random instants, N times,
and checks after each kill that the image restores to the last committed
generation or the next one (never a torn image).

  crash.py PROGRAM IMAGE TRIALS
"""
import os
import random
import re
import signal
import subprocess
import sys
import time


def main():
    prog, image, trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(int(os.environ.get("CRASH_SEED", "1")))
    committed = 0
    seen_old = seen_new = 0
    for trial in range(trials):
        out = open(image + ".out", "w+")
        p = subprocess.Popen([prog, image, "loop"], stdout=out,
                             start_new_session=True)
        time.sleep(rng.uniform(0.0, 0.12))
        os.killpg(p.pid, signal.SIGKILL)  # the checkpoint child too
        p.wait()
        out.seek(0)
        lines = re.findall(r"committed (\d+)", out.read())
        if lines:
            committed = int(lines[-1])
        if not os.path.exists(image):
            if committed == 0:
                continue  # killed before the first image
            sys.exit(f"trial {trial}: the image vanished after {committed}")
        v = subprocess.run([prog, image, "verify"], capture_output=True,
                           text=True)
        m = re.search(r"generation (\d+)", v.stdout)
        if v.returncode != 0 or not m:
            sys.exit(f"trial {trial}: the image does not restore: "
                     f"{v.stdout}{v.stderr}")
        g = int(m.group(1))
        if g == committed:
            seen_old += 1
        elif g == committed + 1:
            seen_new += 1  # committed, killed before it could say so
        else:
            sys.exit(f"trial {trial}: generation {g}, but {committed} was "
                     f"the last committed")
        committed = g
    tmp = [f for f in os.listdir(os.path.dirname(image) or ".")
           if ".tmp-" in f]
    print(f"{trials} kills: every image restored "
          f"(old {seen_old}, new {seen_new}), final generation {committed}, "
          f"{len(tmp)} stale temporary files")


if __name__ == "__main__":
    main()
