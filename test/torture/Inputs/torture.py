#!/usr/bin/env python3
"""SIGKILL at random instants of checkpoints, restores and compactions.

  torture.py KIND PROGRAM PERM IMAGE TRIALS

TRIALS is a number of kills, or for the steps kinds "all" (every call) or
"commit" (every call but the data writes, of which the first two and the
last two).

KIND is
  checkpoint   'PROGRAM IMAGE loop' (restore, verify, then generations with
               a checkpoint each, forever) killed with its checkpoint child
               (the process group) after a random delay; with
               PERM_INCREMENTAL=1 in the environment the checkpoints write
               deltas
  restore      'PROGRAM IMAGE verify MODE' killed in the middle of its
               restore, MODE one of r, r+, a+, r+e, a+e (every fifth trial
               first adds generations); NAME and NAME.prev must be byte
               for byte what they were
  compact      'perm compact IMAGE' killed after a random delay, over a
               chain that a few incremental checkpoints first grew
  steps        a checkpoint ('PROGRAM IMAGE loop a+ 1') killed at every
               step in turn: every run has killshim.so (TORTURE_SHIM) as
               LD_PRELOAD, a first one lists the calls of link, rename,
               fsync/fdatasync, unlink, ftruncate and pwrite it makes, then
               each run dies (the whole process group, with SIGKILL) just
               before, or just after, one of them (KILL_AT=OP@N[:after])
  compact-steps  the same for 'perm compact IMAGE', each time over a chain
               two incremental checkpoints grew

After every trial, once every killed writer is gone (the driver takes the
image's lock, NAME.lock, which a writer holds until it dies):
  - 'perm check IMAGE' passes and IMAGE restores (read-only) to the last
    generation committed or the next one (a kill after the commit, before
    the program could say so), never an older one or a torn heap;
  - IMAGE.prev passes 'perm check' and restores to the generation before
    (the image the last commit replaced), or is, for a kill between the
    commit's two renames, IMAGE itself while IMAGE.old-R holds it;
  - after a writable open (which puts IMAGE.old-R back and removes the
    temporaries killed writers left), IMAGE.prev restores to exactly the
    generation before, and no temporary (IMAGE.tmp-R, IMAGE.prev.tmp-R,
    IMAGE.old-R) is left.
At the end one more generation is committed undisturbed; once its
checkpoint child is gone, neither temporaries nor chain members that no
image needs (members of killed commits) may be left.
PROGRAM is tortureprog (its heap is a function of its generation, checked
whole at every restore).  CRASH_SEED seeds the delays (default 1).  Prints
one summary line; exits 1 with the trial and what was wrong otherwise.
"""
import errno
import fcntl
import hashlib
import json
import os
import random
import re
import signal
import struct
import subprocess
import sys
import time

TEMP = re.compile(r"\.(tmp|prev\.tmp|old)-[0-9a-f]{12}$")


class Torture:
    def __init__(self, kind, prog, perm, image):
        self.kind, self.prog, self.perm, self.image = kind, prog, perm, image
        self.dir = os.path.dirname(image) or "."
        self.base = os.path.basename(image)
        self.gen = 0          # NAME's generation, 0 before the first commit
        self.prev = None      # NAME.prev's, None while there is none
        self.stats = {"old": 0, "new": 0, "between": 0, "recovered": 0,
                      "done": 0, "compacted": 0, "deltas": 0}
        self.trial = -1
        self.bound = 0.02  # kill_adaptive's T, in seconds

    def die(self, msg):
        sys.exit(f"{self.kind} trial {self.trial}: {msg}")

    def run(self, cmd, env=None):
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        return p.returncode, p.stdout + p.stderr

    def generation(self, path, mode="r"):
        rc, out = self.run([self.prog, path, "verify", mode])
        m = re.search(r"^generation (\d+)$", out, re.M)
        if rc != 0 or not m:
            self.die(f"'{path}' does not restore ({mode}): {out}")
        return int(m.group(1))

    def check(self, path):
        rc, out = self.run([self.perm, "check", "--quiet", path])
        if rc != 0:
            self.die(f"perm check '{path}' failed: {out}")

    def temporaries(self):
        return sorted(f for f in os.listdir(self.dir)
                      if f.startswith(self.base) and TEMP.search(f))

    def wait_for_writers(self):
        """Every writer holds NAME.lock until it dies: take it, let it go."""
        lock = self.image + ".lock"
        if not os.path.exists(lock):
            return
        fd = os.open(lock, os.O_RDONLY)
        try:
            for _ in range(3000):
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    return
                except OSError as e:
                    if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                        raise
                time.sleep(0.01)
            self.die("the image's lock is still held 30 s after the kill")
        finally:
            os.close(fd)

    def wait_group(self, pgid):
        """Until no live process is left in the group (reaped or zombie)."""
        for _ in range(3000):
            alive = False
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        st = f.read()
                except OSError:
                    continue
                fields = st[st.rindex(")") + 2:].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    alive = True
                    break
            if not alive:
                return
            time.sleep(0.01)
        self.die(f"process group {pgid} is still alive after 30 s")

    def chain_length(self):
        rc, out = self.run([self.perm, "info", "--json", self.image])
        if rc != 0:
            self.die(f"perm info '{self.image}' failed: {out}")
        return len(json.loads(out)["chain"])

    def chain_files(self, path):
        rc, out = self.run([self.perm, "info", "--json", path])
        if rc != 0:
            self.die(f"perm info '{path}' failed: {out}")
        return {os.path.basename(c["file"]) for c in json.loads(out)["chain"]}

    def settle(self, env=None):
        """One undisturbed generation; then nothing is left lying around."""
        p = subprocess.Popen([self.prog, self.image, "loop", "a+", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, env=env, start_new_session=True)
        out = p.communicate()[0]
        if p.returncode != 0:
            self.die(f"the last generation failed: {out}")
        self.wait_group(p.pid)
        before = self.gen
        self.verify_state(before + 1, before)
        left = self.temporaries()
        if left:
            self.die(f"temporaries left at the end: {left}")
        name, prev = self.image, self.image + ".prev"
        needed = self.chain_files(name) | self.chain_files(prev)
        member = re.compile(re.escape(self.base) + r"\.\d+-[0-9a-f]{16}$")
        orphans = [f for f in os.listdir(self.dir) if member.match(f) and
                   f not in needed and
                   not os.path.samefile(os.path.join(self.dir, f), name) and
                   not os.path.samefile(os.path.join(self.dir, f), prev)]
        if orphans:
            self.die(f"chain members no image needs are left: {orphans}")

    def files(self):
        """Content hashes of NAME, NAME.prev and every chain member."""
        out = {}
        for f in sorted(os.listdir(self.dir)):
            if f == self.base or (f.startswith(self.base + ".") and
                                  not f.endswith(".lock") and
                                  not TEMP.search(f)):
                with open(os.path.join(self.dir, f), "rb") as fh:
                    out[f] = hashlib.sha1(fh.read()).hexdigest()
        return out

    def verify_state(self, committed, before):
        """The invariants, with committed the last generation reported."""
        self.wait_for_writers()
        name, prev = self.image, self.image + ".prev"
        if not os.path.exists(name):
            if committed == 0 and before == 0:
                return  # killed before the first image
            self.die(f"'{name}' vanished after generation {committed}")
        self.check(name)
        g = self.generation(name)
        if g not in (committed, committed + 1) or g < before:
            self.die(f"'{name}' holds generation {g}, but {committed} was "
                     f"the last committed (and {before} the one before)")
        self.stats["new" if g > committed else "old"] += 1
        with open(name, "rb") as f:  # header flags: PERM_IMAGE_F_DELTA
            self.stats["deltas"] += (struct.unpack_from("<I", f.read(24), 20)[0]
                                     & 2) != 0
        if g > before:
            self.prev = g - 1 if g > 1 else None
        expect = self.prev
        # Before any recovery: NAME.prev as the kill left it.
        if expect is None:
            if os.path.exists(prev) and not os.path.samefile(prev, name):
                self.die(f"'{prev}' exists, but no image came before")
        elif not os.path.exists(prev):
            self.die(f"'{prev}' is missing (it should hold generation "
                     f"{expect})")
        elif os.path.samefile(prev, name) and expect != g:
            # Killed between the two renames: the one before is aside.
            olds = [f for f in self.temporaries() if ".old-" in f]
            held = [o for o in olds
                    if self.generation(os.path.join(self.dir, o)) == expect]
            if not held:
                self.die(f"'{prev}' is '{name}' and no {self.base}.old-R "
                         f"holds generation {expect} (have {olds})")
            for o in held:
                self.check(os.path.join(self.dir, o))
            self.stats["between"] += 1
        else:
            self.check(prev)
            pg = self.generation(prev)
            if pg != expect:
                self.die(f"'{prev}' holds generation {pg}, expected {expect}")
        # A writable open recovers; then NAME.prev is exactly the one before.
        g2 = self.generation(name, "r+")
        if g2 != g:
            self.die(f"a writable open found generation {g2}, not {g}")
        left = self.temporaries()
        if left:
            self.die(f"temporaries left after a writable open: {left}")
        if expect is not None:
            self.check(prev)
            pg = self.generation(prev)
            if pg != expect:
                self.die(f"after recovery '{prev}' holds generation {pg}, "
                         f"expected {expect}")
            self.stats["recovered"] += 1
        self.gen = g

    def kill_after(self, cmd, delay, env=None, out=None):
        p = subprocess.Popen(cmd, stdout=out or subprocess.DEVNULL,
                             stderr=subprocess.STDOUT, env=env,
                             start_new_session=True)
        time.sleep(delay)
        try:
            os.killpg(p.pid, signal.SIGKILL)  # its checkpoint child too
        except ProcessLookupError:
            pass
        rc = p.wait()
        self.wait_group(p.pid)
        if rc == 0:
            self.stats["done"] += 1  # finished before the kill
        elif rc != -signal.SIGKILL:
            out_text = ""
            if out is not None:
                out.seek(0)
                out_text = out.read()
            self.die(f"{' '.join(cmd)} failed with status {rc} before the "
                     f"kill: {out_text}")

    def checkpoint_trial(self, rng):
        before = self.gen
        with open(self.image + ".out", "w+") as out:
            self.kill_after([self.prog, self.image, "loop"],
                            rng.uniform(0.0, 0.15), out=out)
            out.seek(0)
            lines = re.findall(r"^committed (\d+)$", out.read(), re.M)
        committed = int(lines[-1]) if lines else before
        self.verify_state(committed, before)

    def grow(self, n, env=None):
        rc, out = self.run([self.prog, self.image, "loop", "a+", str(n)], env)
        if rc != 0:
            self.die(f"adding {n} generations failed: {out}")
        lines = re.findall(r"^committed (\d+)$", out, re.M)
        g = int(lines[-1])
        self.prev = g - 1 if g > 1 else None
        self.gen = g

    def kill_adaptive(self, cmd, rng):
        """Killed after uniform(0, T): T shrinks when the run finished
        first and grows when it did not, so kills cover the whole run, its
        end (the commit) included, whatever this machine's speed."""
        done = self.stats["done"]
        self.kill_after(cmd, rng.uniform(0.0, self.bound))
        self.bound *= 0.85 if self.stats["done"] > done else 1.15

    def restore_trial(self, rng):
        if self.trial % 5 == 0 or self.gen == 0:
            self.grow(1 + rng.randrange(3))
        before = self.files()
        mode = rng.choice(["r", "r+", "a+", "r+e", "a+e"])
        self.kill_adaptive([self.prog, self.image, "verify", mode], rng)
        self.wait_for_writers()
        after = self.files()
        if after != before:
            self.die(f"a restore ({mode}) killed changed the files: "
                     f"{before} -> {after}")
        self.verify_state(self.gen, self.gen)

    def compact_trial(self, rng):
        env = dict(os.environ, PERM_INCREMENTAL="1", PERM_CHAIN_MAX="1000",
                   PERM_CHAIN_RATIO="1000")
        self.grow(1 + rng.randrange(3) if self.gen else 4, env)
        ino = os.stat(self.image).st_ino
        g = self.gen
        self.kill_adaptive([self.perm, "compact", "--quiet", self.image], rng)
        self.wait_for_writers()
        if self.generation(self.image) != g:
            self.die("a compaction changed the generation")
        if os.stat(self.image).st_ino != ino:
            self.prev = g  # the chain it folded is NAME.prev now
            self.stats["compacted"] += 1
        self.verify_state(g, g)

    def steps(self, compact, which):
        """Every step of one commit, killed before and after; with which
        "commit", of the pwrite calls (the data) only the first two and the
        last two."""
        shim = os.environ["TORTURE_SHIM"]
        # Every run has the shim (a restore needs the writer's libraries).
        os.environ["LD_PRELOAD"] = shim
        inc = dict(os.environ, PERM_INCREMENTAL="1", PERM_CHAIN_MAX="1000",
                   PERM_CHAIN_RATIO="1000")
        env = inc if compact else dict(os.environ)
        if compact:
            cmd = [self.perm, "compact", "--quiet", self.image]
        else:
            cmd = [self.prog, self.image, "loop", "a+", "1"]
        self.grow(2, env)
        self.verify_state(self.gen, self.gen)
        log = self.image + ".steps"
        if os.path.exists(log):
            os.unlink(log)
        if compact:
            self.grow(2, env)
        ino = os.stat(self.image).st_ino
        rc, out = self.run(cmd, dict(env, LD_PRELOAD=shim, KILL_AT_LOG=log))
        if rc != 0:
            self.die(f"{' '.join(cmd)} under the shim failed: {out}")
        if compact and os.stat(self.image).st_ino != ino:
            self.prev = self.gen
        self.verify_state(self.gen + (not compact), self.gen)
        pairs = []
        with open(log) as f:
            for line in f:
                op, n = line.split()
                if (op, int(n)) not in pairs:
                    pairs.append((op, int(n)))
        os.unlink(log)
        if which == "commit":
            writes = [p for p in pairs if p[0] == "pwrite"]
            keep = writes[:2] + writes[-2:]
            pairs = [p for p in pairs if p[0] != "pwrite" or p in keep]
        tried = killed = 0
        for op, n in pairs:
            for when in ("", ":after"):
                self.trial += 1
                tried += 1
                if compact:
                    if self.chain_length() > 3:  # what killed runs left
                        rc, out = self.run([self.perm, "compact", "--quiet",
                                            self.image])
                        if rc != 0:
                            self.die(f"perm compact failed: {out}")
                        self.prev = self.gen
                        self.verify_state(self.gen, self.gen)
                    self.grow(2, env)
                before = self.gen
                ino = os.stat(self.image).st_ino
                p = subprocess.Popen(cmd, env=dict(env, LD_PRELOAD=shim,
                                                   KILL_AT=f"{op}@{n}{when}"),
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
                p.stdout_text = p.communicate()[0]
                self.wait_group(p.pid)
                if p.returncode == -signal.SIGKILL:
                    killed += 1
                elif p.returncode != 0:
                    self.die(f"{' '.join(cmd)} with KILL_AT={op}@{n}{when} "
                             f"failed with status {p.returncode}: "
                             f"{p.stdout_text}")
                else:
                    self.stats["done"] += 1
                self.wait_for_writers()
                if compact and os.stat(self.image).st_ino != ino:
                    self.prev = before
                    self.stats["compacted"] += 1
                self.verify_state(before, before)
        self.settle(env)
        return tried, killed, len(pairs)

    def main(self, trials):
        if self.kind in ("steps", "compact-steps"):
            self.trial = 0
            tried, killed, steps = self.steps(self.kind == "compact-steps",
                                              trials)
            steps = f"{steps} calls" if trials == "all" else \
                f"{steps} calls, data writes sampled"
            s = self.stats
            print(f"{tried} {self.kind} kills ({steps}, before and "
                  f"after each; {killed} killed): every image checked, "
                  f"restored and its previous image too (final generation "
                  f"{self.gen}; old {s['old']}, new {s['new']}, between "
                  f"renames {s['between']}, compacted {s['compacted']}; deltas seen {s['deltas']})")
            return
        rng = random.Random(int(os.environ.get("CRASH_SEED", "1")))
        step = {"checkpoint": self.checkpoint_trial,
                "restore": self.restore_trial,
                "compact": self.compact_trial}[self.kind]
        for self.trial in range(int(trials)):
            step(rng)
        self.trial = "final"
        self.settle(dict(os.environ, PERM_INCREMENTAL="1")
                    if self.kind == "compact" else None)
        s = self.stats
        print(f"{trials} {self.kind} kills: every image checked, restored "
              f"and its previous image too (final generation {self.gen}; "
              f"old {s['old']}, new {s['new']}, between renames "
              f"{s['between']}, finished {s['done']}, compacted "
              f"{s['compacted']}; deltas seen {s['deltas']})")


if __name__ == "__main__":
    kind, prog, perm, image, trials = sys.argv[1:6]
    Torture(kind, prog, perm, image).main(trials)
