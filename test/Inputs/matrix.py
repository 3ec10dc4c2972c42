#!/usr/bin/env python3
"""matrix.py - drives test/compat/matrix.test: every way to open an image x
every way to checkpoint it, three runs each, with test/compat/Inputs/matrix.cpp,
whose persistent globals are of every kind (executable, shared library,
dlopen'ed module, static local, C++ inline variable), each the root of a heap
list.  After three runs every list holds three nodes, perm check passes,
perm info lists every global and says generation 3.

  matrix.py PERM PRELOAD LINKED UNLINKED MODULE WORKDIR

LINKED is the program linked with libpermrt, UNLINKED the same built with
-DMATRIX_PRELOAD and not linked with it (for LD_PRELOAD and perm run).

Combinations that make no sense are not run, and are listed as such:
  - perm_open or mopen with 'exit' or 'signal': the checkpoints at exit and
    on PERM_CHECKPOINT_SIGNAL belong to PERM_FNAME; a program that opens
    the image itself checkpoints it itself;
  - LD_PRELOAD or perm run with perm_open or mopen: the environment has
    opened the image before main (a second open fails with EALREADY);
  - LD_PRELOAD or perm run with a program linked with libpermrt: two
    runtimes would compete for the same region (README.PERM, section 10).

Prints one line per combination, "PASS open=.. ckpt=.." or "FAIL ...: why",
and exits 1 if any failed.
"""
import os
import shutil
import subprocess
import sys

CKPTS = ["call", "mflush", "backup", "exit", "signal"]
GLOBALS = ["exe_list", "lib_list", "mod_list", "matrix::inline_list",
           "matrix.cpp:local_list():list"]


class Failure(Exception):
    pass


def expected(run):
    s = run * (run + 1) // 2
    kinds = " ".join(f"{k}={run}/{s}" for k in
                     ["exe", "lib", "mod", "local", "inline"])
    return f"run={run} {kinds} restored={0 if run == 1 else 1}"


def run_cmd(cmd, env, cwd, what):
    p = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    if p.returncode != 0:
        raise Failure(f"{what} exited {p.returncode}: {p.stdout.strip()}")
    return p.stdout


class Matrix:
    def __init__(self, perm, preload, linked, unlinked, module, workdir):
        self.perm, self.preload = perm, preload
        self.linked, self.unlinked = linked, unlinked
        self.module, self.workdir = module, workdir
        self.base_env = {k: v for k, v in os.environ.items()
                         if not k.startswith("PERM_")}
        self.base_env.pop("LD_PRELOAD", None)
        self.failed = 0

    def one_run(self, opener, ckpt, run, cwd):
        """One run of the program: returns the command and environment."""
        env = dict(self.base_env)
        kind, modes = opener
        if ckpt != "exit":
            env["PERM_CHECKPOINT_AT_EXIT"] = "0"
        if ckpt == "signal":
            env["PERM_CHECKPOINT_SIGNAL"] = "USR1"
        how = "env"
        prog = self.linked
        prefix = []
        if kind in ("perm_open", "mopen"):
            how = kind
            env.pop("PERM_CHECKPOINT_AT_EXIT", None)
        elif kind == "PERM_FNAME":
            env["PERM_FNAME"] = "img"
            env["PERM_MODE"] = modes[min(run, len(modes)) - 1]
        elif kind == "LD_PRELOAD":
            prog = self.unlinked
            env["LD_PRELOAD"] = self.preload
            env["PERM_FNAME"] = "img"
            env["PERM_MODE"] = "a+"
        elif kind == "perm run":
            prog = self.unlinked
            prefix = [self.perm, "run", "--image", "img", "--"]
        cmd = prefix + [prog, how, ckpt, "img", self.module]
        out = run_cmd(cmd, env, cwd, f"run {run}").strip()
        if out != expected(run):
            raise Failure(f"run {run} printed '{out}', not '{expected(run)}'")
        if ckpt == "backup":
            # The backup is a complete image: the next run starts from it.
            run_cmd([self.perm, "check", "img.back"], env, cwd, "perm check")
            os.replace(os.path.join(cwd, "img.back"), os.path.join(cwd, "img"))

    def check_image(self, cwd):
        out = run_cmd([self.perm, "check", "img"], self.base_env, cwd,
                      "perm check")
        if "OK (generation 3," not in out:
            raise Failure(f"perm check: {out.strip()}")
        info = run_cmd([self.perm, "info", "img"], self.base_env, cwd,
                       "perm info")
        names = set()
        for line in info.splitlines():
            fields = line.split()
            if len(fields) >= 5 and fields[0].startswith("0x"):
                names.add(fields[-1])
        missing = [g for g in GLOBALS if g not in names]
        if missing:
            raise Failure(f"perm info does not list {', '.join(missing)}")

    def combination(self, name, opener, ckpt):
        cwd = os.path.join(self.workdir,
                           f"{name}-{ckpt}".replace(" ", "_").replace("+", "p"))
        shutil.rmtree(cwd, ignore_errors=True)
        os.makedirs(cwd)
        try:
            for run in (1, 2, 3):
                self.one_run(opener, ckpt, run, cwd)
            self.check_image(cwd)
            print(f"PASS open={name} ckpt={ckpt}")
        except (Failure, subprocess.TimeoutExpired) as e:
            self.failed += 1
            print(f"FAIL open={name} ckpt={ckpt}: {e}")

    def read_only(self):
        """PERM_MODE=r restores and never writes, at exit or on request."""
        name = "PERM_FNAME r"
        cwd = os.path.join(self.workdir, "PERM_FNAME_ap-exit")
        img = os.path.join(cwd, "img")
        try:
            before = open(img, "rb").read()
            env = dict(self.base_env, PERM_FNAME="img", PERM_MODE="r")
            for _ in range(2):
                out = run_cmd([self.linked, "env", "exit", "img", self.module],
                              env, cwd, "run").strip()
                if out != expected(4):
                    raise Failure(f"printed '{out}', not '{expected(4)}'")
            p = subprocess.run([self.linked, "env", "call", "img",
                                self.module], env=env, cwd=cwd,
                               stdout=subprocess.PIPE, text=True, timeout=120)
            if p.returncode == 0 or "read-only" not in p.stdout:
                raise Failure(f"a checkpoint in mode r: '{p.stdout.strip()}'")
            if open(img, "rb").read() != before:
                raise Failure("the image changed")
            print(f"PASS open={name} ckpt=exit,call (read-only: unchanged)")
        except (Failure, OSError, subprocess.TimeoutExpired) as e:
            self.failed += 1
            print(f"FAIL open={name}: {e}")


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    m = Matrix(*sys.argv[1:])
    openers = [
        ("perm_open", ("perm_open", None), ["call", "mflush", "backup"]),
        ("mopen", ("mopen", None), ["call", "mflush", "backup"]),
        ("PERM_FNAME a+", ("PERM_FNAME", ["a+"]), CKPTS),
        ("PERM_FNAME a", ("PERM_FNAME", ["a"]), CKPTS),
        ("PERM_FNAME w+,r+", ("PERM_FNAME", ["w+", "r+"]), CKPTS),
        ("PERM_FNAME w,r+", ("PERM_FNAME", ["w", "r+"]), CKPTS),
        ("LD_PRELOAD", ("LD_PRELOAD", None), CKPTS),
        ("perm run", ("perm run", None), CKPTS),
    ]
    for name, opener, ckpts in openers:
        for ckpt in ckpts:
            m.combination(name, opener, ckpt)
    m.read_only()
    sys.exit(1 if m.failed else 0)


if __name__ == "__main__":
    main()
