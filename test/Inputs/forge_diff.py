#!/usr/bin/env python3
"""Restore refuses what perm check refuses: forges random fields of an image
(forge.c reseals every checksum), then asks 'perm check' and a restore in
modes r+, r and r+e (errprog IMAGE MODE open) about each forgery.

  forge_diff.py FORGE PROG PERM IMAGE TRIALS [SEED]

PROG restores: 'PROG IMAGE MODE open' (errprog.c), or with PROG given as
"verify:PATH", 'PATH IMAGE verify MODE' (crashprog.c, tortureprog.c: they
verify their whole heap).  IMAGE may be a delta: its chain stays beside it.

A trial fails when a reader crashes (a signal, or an exit status other than
0 and 1), when a restore succeeds where perm check refuses, when a restore
changes the file, or when a refusal does not name the image.  Prints one
line: the trials, how many forgeries each side refused, and (when perm check
accepts a forgery a restore refuses) how many such, which is allowed: a
restore also checks the image against the running program.
"""
import os
import random
import shutil
import struct
import subprocess
import sys

HDR = struct.Struct("<8sIIII" + "Q" * 10 + "16s64sII")
BLOCK = struct.Struct("<IIQQQQ")
NAMES = ["generation", "time_ns", "region_base", "region_capacity",
         "region_top", "data_offset", "data_bytes", "heap_allocated",
         "heap_active", "file_size"]
MAX_SPARSE = 64 << 20  # forged sizes stay small (4 GiB: forged-restore.test)


def parse(path):
    with open(path, "rb") as f:
        buf = f.read()
    f = HDR.unpack_from(buf, 0)
    h = dict(zip(NAMES, f[5:15]))
    h["nblocks"] = f[17]
    h["blocks"] = [BLOCK.unpack_from(buf, HDR.size + i * BLOCK.size)
                   for i in range(h["nblocks"])]
    counts = {}
    for t, name in ((1, "objects"), (2, "registry"), (4, "runs"),
                    (5, "extents")):
        b = [x for x in h["blocks"] if x[0] == t][0]
        counts[name] = struct.unpack_from("<I", buf, b[2])[0]
    h["counts"] = counts
    return h


def values(rng, orig, h):
    page = 4096
    base = h["region_base"]
    pick = [0, 1, orig + 1, orig - 1, orig + page, orig - page, orig * 2,
            orig + (1 << 32), 1 << 32, (1 << 63), (1 << 64) - 1,
            (1 << 64) - page, base, base + h["region_top"],
            base + h["region_capacity"], h["file_size"],
            h["file_size"] + page, h["data_offset"], rng.getrandbits(64),
            rng.getrandbits(20) * page, rng.getrandbits(32)]
    return pick[rng.randrange(len(pick))] % (1 << 64)


def mutation(rng, h):
    """One (FIELD, VALUE) for forge, from the image's own geometry."""
    kind = rng.randrange(6)
    if kind == 0:
        name = rng.choice(["data_bytes", "region_top", "generation",
                           "region_capacity", "data_offset", "file_size",
                           "nblocks"])
        if name == "nblocks":
            return "header.nblocks", rng.choice([0, 1, 6, 8, 64, 65, 1 << 31])
        v = values(rng, h.get(name, 0), h)
        if name == "file_size" and v > MAX_SPARSE:
            v = h["file_size"] + rng.choice([4096, 1 << 20])
        return "header." + name, v
    if kind == 1:
        i = rng.randrange(h["nblocks"])
        name = rng.choice(["offset", "length", "type", "flags", "dup"])
        if name == "dup":
            return "block.dup", i
        orig = h["blocks"][i][{"offset": 2, "length": 3, "type": 0,
                               "flags": 1}[name]]
        if name in ("type", "flags"):
            return f"block.{i}.{name}", rng.choice([0, 1, 2, 3, 4, 5, 6,
                                                    orig + 1, 1 << 31])
        return f"block.{i}.{name}", values(rng, orig, h)
    if kind == 2:
        name = rng.choice(["nfree", "generation", "heap_id", "magic",
                           "region.capacity", "region.top", "region.base",
                           "region.free.0.off", "region.free.0.len",
                           "region.free.1.off"])
        if name == "nfree":
            return "saved.nfree", rng.choice([1, 2, 1023, 1024, 1025, 5000,
                                              1 << 31, (1 << 32) - 1])
        return "saved." + name, values(rng, 0, h)
    table = rng.choice(["objects", "registry", "runs", "extents"])
    n = h["counts"][table]
    fields = {"objects": ["name_offset", "build_id_len"],
              "registry": ["name_offset", "data_offset"],
              "runs": ["addr", "length"],
              "extents": ["addr", "length", "file_offset", "flags"]}[table]
    if rng.randrange(5) == 0 or n == 0:
        return f"{table}.count", rng.choice([0, n - 1, n + 1, n * 2, 1 << 20,
                                             (1 << 32) - 1]) % (1 << 32)
    i = rng.randrange(n)
    f = rng.choice(fields)
    if f == "build_id_len":
        return f"{table}.{i}.{f}", rng.choice([0, 20, 40, 41, 255, 1 << 31])
    if f == "flags":
        return f"{table}.{i}.{f}", rng.choice([1, 2, 3, 1 << 31])
    return f"{table}.{i}.{f}", values(rng, h["region_base"] if f == "addr"
                                      else h["data_offset"], h)


def same(a, b):
    with open(a, "rb") as x, open(b, "rb") as y:
        while True:
            p, q = x.read(1 << 20), y.read(1 << 20)
            if p != q:
                return False
            if not p:
                return True


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def main():
    forge, prog, perm, image, trials = sys.argv[1:6]
    if prog.startswith("verify:"):
        path = prog[len("verify:"):]
        restore = lambda img, mode: [path, img, "verify", mode]
    else:
        restore = lambda img, mode: [prog, img, mode, "open"]
    trials = int(trials)
    rng = random.Random(int(sys.argv[6]) if len(sys.argv) > 6 else 1)
    h = parse(image)
    work = image + ".forged"
    copy = image + ".forged-copy"
    refused_check = refused_restore = stricter = 0
    done = 0
    problems = []
    for trial in range(trials):
        shutil.copyfile(image, work)
        muts = [mutation(rng, h) for _ in range(1 + (rng.randrange(4) == 0))]
        ok = True
        for field, value in muts:
            rc, _ = run([forge, work, field, str(value)])
            if rc != 0:
                ok = False  # forge could not apply it (no such entry)
                break
        if not ok:
            continue
        done += 1
        what = " ".join(f"{f}={v:#x}" for f, v in muts)
        shutil.copyfile(work, copy)
        crc, cout = run([perm, "check", work])
        if crc not in (0, 1):
            problems.append(f"{what}: perm check exited {crc}: {cout}")
        refused_check += crc != 0
        restore_refused = False
        for mode in ("r+", "r", "r+e"):
            rc, out = run(restore(work, mode))
            # Refused by perm_open, or restored (a heap that the program
            # then finds wrong is still a restore: a forgery the
            # validator accepts may hold another valid heap).
            refused = rc == 1 and "perm_open: " in out
            if rc not in (0, 1, 4):  # 4: errprog found its data changed
                problems.append(f"{what}: restore ({mode}) exited {rc}: {out}")
            elif not refused and crc != 0:
                problems.append(f"{what}: restore ({mode}) accepted what "
                                f"perm check refuses: {cout} / {out}")
            elif refused and os.path.basename(work) not in out:
                problems.append(f"{what}: restore ({mode}) refused it without "
                                f"naming the image: {out}")
            restore_refused |= refused
            if not same(work, copy):
                problems.append(f"{what}: restore ({mode}) changed it")
            for extra in (work + ".lock",):
                if os.path.exists(extra):
                    os.unlink(extra)
        refused_restore += restore_refused
        stricter += restore_refused and crc == 0
    for f in (work, copy):
        if os.path.exists(f):
            os.unlink(f)
    for p in problems:
        print("PROBLEM:", p)
    print(f"{done} forgeries: perm check refused {refused_check}, restore "
          f"refused {refused_restore} ({stricter} that perm check accepts), "
          f"{len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
