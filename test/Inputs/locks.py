#!/usr/bin/env python3
"""One writer per image, readers beside it (issue 9, defect 3), with
lockprog.c:

  locks.py LOCKPROG DIR SCENARIO

Scenarios (each prints lines for FileCheck; a process id in a message is
checked here, then printed as PID):
  writers     a second writer (every writable mode) fails at perm_open with
              EBUSY naming the first (pid and program); readers (r) open
              beside the writer and beside each other; once the writer has
              checkpointed and exited, the next writer opens at once
  fork        a child the writer forked lets go of the lock: once the
              writer exits, another writer opens; once that one is done,
              the child takes the lock again and checkpoints
  fork-refused  the same, but the child checkpoints while the other writer
              holds the image: refused, with EBUSY naming the holder
  outlive     a checkpoint's child stopped before its commit, whose parent
              exited: the image stays locked (EBUSY naming the parent)
              until the child, continued, has made its image durable;
              then the next writer opens and finds that generation
  backup      perm_checkpoint_to a path another process holds for writing
              is refused with EBUSY naming it, the file unchanged
  swapped     the image replaced by a symbolic link (to the image, moved)
              while its writer holds it: the writer's checkpoint is refused
              with ELOOP saying where the link points; the link and the
              file it names are unchanged, and no NAME.prev appears
  counter N   two processes each run 'lockprog IMAGE incr' N times at once
              (each run: open a+, retried on EBUSY, +1, checkpoint): the
              counter ends at 2N, every run succeeded
"""
import os
import re
import signal
import subprocess
import sys
import threading
import time


def run(*args):
    p = subprocess.run([PROG] + list(args), capture_output=True, text=True)
    return p.returncode, (p.stdout + p.stderr).strip()


def run_parent(d, *args):
    """A run whose children outlive it: waits for it alone, not for the
    end of its output (its children hold the same descriptors)."""
    with open(os.path.join(d, "parent.out"), "w+") as out:
        p = subprocess.Popen([PROG] + list(args), stdout=out,
                             stderr=subprocess.STDOUT)
        rc = p.wait()
        out.seek(0)
        return rc, out.read().strip()


def show(label, rc, out, pids=()):
    for pid, what in pids:
        out = out.replace(f"process {pid} (", f"process {what} (")
    print(f"{label}: rc={rc}: {out}")


def wait_file(path):
    for _ in range(60000):
        if os.path.exists(path):
            with open(path) as f:
                return f.read().split()
        time.sleep(0.001)
    sys.exit(f"{path} never appeared")


def hold(img, mode, sync, ckpt=False):
    for f in ("ready", "go", "go2"):
        if os.path.exists(os.path.join(sync, f)):
            os.unlink(os.path.join(sync, f))
    args = [PROG, img, "hold", mode, sync] + (["ckpt"] if ckpt else [])
    p = subprocess.Popen(args, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    pid = int(wait_file(os.path.join(sync, "ready"))[0])
    assert pid == p.pid
    return p


def release(p, sync):
    open(os.path.join(sync, "go"), "w").close()
    out = p.communicate()[0].strip()
    return p.returncode, out


def named(out, pid):
    """The message names the holder: its pid and its program."""
    exe = os.path.realpath(PROG)
    if f"process {pid} ({exe})" not in out:
        sys.exit(f"the message does not name process {pid} ({exe}): {out}")


def writers(d):
    img = os.path.join(d, "img")
    print("create:", run(img, "create"))
    a = hold(img, "a+", d, ckpt=True)
    for mode in ("a+", "r+", "w+", "a", "w", "a+e", "r+i"):
        rc, out = run(img, "open", mode)
        named(out, a.pid)
        show(f"second writer ({mode})", rc, out, [(a.pid, "A")])
    os.makedirs(d + "/r1", exist_ok=True)
    r1 = hold(img, "r", d + "/r1")
    rc, out = run(img, "open", "r")
    show("reader beside a writer and a reader", rc, out)
    print("reader (held): rc=%d: %s" % release(r1, d + "/r1"))
    print("writer: rc=%d: %s" % release(a, d))
    rc, out = run(img, "open", "a+")
    show("next writer", rc, out)
    rc, out = run(img, "counter")
    show("its image", rc, out)
    # A reader first, then a writer beside it.
    r1 = hold(img, "r", d + "/r1")
    rc, out = run(img, "open", "r+")
    show("writer beside a reader", rc, out)
    print("reader (held): rc=%d: %s" % release(r1, d + "/r1"))


def wait_gone(pid):
    """A process that is not our child: until it is gone or a zombie."""
    for _ in range(60000):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return
        except OSError:
            return
        time.sleep(0.001)
    sys.exit(f"process {pid} is still running after 60 s")


def fork(d, refused):
    """A forked child lets the lock go; it takes it again to checkpoint
    (refused, naming the holder, when another writer has it meanwhile)."""
    img = os.path.join(d, "img")
    print("create:", run(img, "create"))
    for f in ("ready", "go2", "child.out"):
        if os.path.exists(os.path.join(d, f)):
            os.unlink(os.path.join(d, f))
    rc, out = run_parent(d, img, "fork-hold", d)
    print(f"writer that forked: rc={rc}")
    child = int(wait_file(os.path.join(d, "ready"))[0])
    os.makedirs(d + "/b", exist_ok=True)
    b = hold(img, "a+", d + "/b")
    print("another writer while the forked child lives: opened")
    if not refused:
        print("writer B: rc=%d: %s" % release(b, d + "/b"))
    open(os.path.join(d, "go2"), "w").close()
    wait_gone(child)
    out = open(os.path.join(d, "child.out")).read().strip()
    if refused:
        named(out, b.pid)
        out = out.replace(f"process {child},", "process CHILD,")
        show("the forked child's checkpoint", 1, out, [(b.pid, "B")])
        print("writer B: rc=%d: %s" % release(b, d + "/b"))
    else:
        print("the forked child alone:", out)
    rc, out = run(img, "counter")
    show("its image", rc, out)


def outlive(d, mib):
    img = os.path.join(d, "img")
    print("create:", run(img, "create"))
    rc, out = run(img, "counter")
    show("before", rc, out)
    size = os.path.getsize(img)
    rc, out = run_parent(d, img, "stop-child", d, str(mib))
    parent, child = map(int, wait_file(os.path.join(d, "ready")))
    print(f"parent exited: rc={rc}")
    if os.path.getsize(img) != size or run(img, "counter")[1] != "counter 0":
        sys.exit("the stopped child committed before it was stopped; give it "
                 "more to write")
    rc, out = run(img, "open", "a+")
    named(out, parent)
    show("writer while the child is stopped", rc, out, [(parent, "PARENT")])
    os.kill(child, signal.SIGCONT)
    for _ in range(600):
        rc, out = run(img, "open", "a+")
        if rc == 0:
            break
        named(out, parent)
        time.sleep(0.05)
    show("writer once the child is done", rc, out)
    rc, out = run(img, "counter")
    show("its image", rc, out)


def backup(d):
    img, other = os.path.join(d, "img"), os.path.join(d, "other")
    print("create:", run(img, "create"))
    a = hold(img, "a+", d)
    before = open(img, "rb").read()
    rc, out = run(other, "ckpt-to", img)
    named(out, a.pid)
    show("checkpoint_to a held image", rc, out, [(a.pid, "A")])
    print("writer: rc=%d: %s" % release(a, d))
    print("unchanged:", open(img, "rb").read() == before)
    rc, out = run(other + "2", "ckpt-to", img)
    show("checkpoint_to once free", rc, out)
    rc, out = run(img, "counter")
    show("its image", rc, out)


def swapped(d):
    img, real = os.path.join(d, "img"), os.path.join(d, "real.img")
    print("create:", run(img, "create"))
    a = hold(img, "a+", d, ckpt=True)
    os.rename(img, real)
    os.symlink("real.img", img)
    before = open(real, "rb").read()
    print("writer: rc=%d: %s" % release(a, d))
    print("still a link:", os.path.islink(img))
    print("unchanged:", open(real, "rb").read() == before)
    print("NAME.prev:", os.path.lexists(img + ".prev"))


def counter(d, n):
    img = os.path.join(d, "img")
    print("create:", run(img, "create"))
    results = [[], []]

    def worker(k):
        for _ in range(n):
            results[k].append(run(img, "incr"))

    threads = [threading.Thread(target=worker, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = [r for r in results[0] + results[1] if r[0] != 0]
    seen = sorted(int(r[1].split()[-1]) for r in results[0] + results[1]
                  if r[0] == 0)
    print(f"{2 * n} runs, {len(bad)} failed: {bad[:3]}")
    print("every value once:", seen == list(range(1, 2 * n + 1)))
    rc, out = run(img, "counter")
    show("final", rc, out)


if __name__ == "__main__":
    PROG, d, scenario = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(d, exist_ok=True)
    if scenario == "writers":
        writers(d)
    elif scenario in ("fork", "fork-refused"):
        fork(d, scenario == "fork-refused")
    elif scenario == "outlive":
        outlive(d, int(sys.argv[4]) if len(sys.argv) > 4 else 64)
    elif scenario == "backup":
        backup(d)
    elif scenario == "swapped":
        swapped(d)
    elif scenario == "counter":
        counter(d, int(sys.argv[4]))
    else:
        sys.exit(__doc__)
