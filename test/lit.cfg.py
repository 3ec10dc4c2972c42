# -*- Python -*-
# lit configuration for PERM.  Substitutions (see README.PERM, "Tests"):
#   %clang, %clangxx      clang-19 / clang++-19
#   %perm_plugin          path of libperm.so (the Clang plugin)
#   %cflags               -I<include> -g -O1 -Wall
#   %ldflags              link against the shared runtime of the build tree
#   %ldflags_static       link against the static runtime of the build tree
#   %perm                 the perm command
#   %preload              path of libperm-preload.so
#   %perm_build           the build tree (for cmake --install in tests)
#   %perm_src             the source tree (examples/ for out-of-tree builds)
#   %cmake                the cmake that configured the build
#   FileCheck, not, split-file from LLVM 19
import os
import shutil
import sys

import lit.formats

config.name = "PERM"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".c", ".cpp", ".test", ".ll"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.perm_obj_root, "test")

llvm_bin = config.llvm_tools_dir
config.environment["PATH"] = os.pathsep.join(
    [llvm_bin, config.perm_bin_dir, config.environment.get("PATH", os.environ["PATH"])]
)
for var in ["HOME", "TMPDIR", "USER"]:
    if var in os.environ:
        config.environment[var] = os.environ[var]
# A test never inherits a PERM_* setting from the shell that runs lit.
for var in list(config.environment):
    if var.startswith("PERM_"):
        del config.environment[var]

inc = config.perm_include_dir
rt = config.perm_lib_dir
# Longer names before their prefixes (%perm_build before %perm).
config.substitutions.append(("%perm_build", config.perm_obj_root))
config.substitutions.append(("%perm_src", config.perm_src_root))
config.substitutions.append(("%cmake", shutil.which("cmake") or "cmake"))
config.substitutions.append(("%clangxx", config.clangxx))
config.substitutions.append(("%clang", config.clang))
config.substitutions.append(("%perm_plugin", config.perm_plugin))
config.substitutions.append(("%cflags", f"-I{inc} -g -O1 -Wall"))
config.substitutions.append(
    ("%ldflags_static", f"{rt}/libpermrt.a -lxxhash -lpthread -ldl -lm")
)
config.substitutions.append(("%ldflags", f"-L{rt} -Wl,-rpath,{rt} -lpermrt"))
config.substitutions.append(("%preload", os.path.join(rt, "libperm-preload.so")))
config.substitutions.append(("%perm", os.path.join(config.perm_bin_dir, "perm")))
config.substitutions.append(("%python", sys.executable))
config.substitutions.append(("%bin", config.perm_bin_dir))

if os.path.exists(config.perm_plugin):
    config.available_features.add("plugin")
if shutil.which("ld.lld-19") or shutil.which("ld.lld"):
    config.available_features.add("lld")
if shutil.which("gcc"):
    config.available_features.add("gcc")
if shutil.which("mpirun") and os.path.exists(
    os.path.join(config.perm_bin_dir, "perm-mpi-heat")
):
    config.available_features.add("mpi")
mpirun = "mpirun --oversubscribe"
if os.getuid() == 0:
    mpirun += " --allow-run-as-root"
config.substitutions.append(("%mpirun", mpirun))
try:
    with open("/proc/sys/kernel/randomize_va_space") as f:
        if f.read().strip() != "0":
            config.available_features.add("aslr")
except OSError:
    pass
if os.getuid() == 0:
    config.available_features.add("root")


# Tests that run a command as a second user (test/Inputs/as-user.sh: uid
# 65534 when root, else the user itself) need that user to reach the build
# tree.  A checkout under a private directory (a "mktemp -d", mode 0700)
# does not let it through; those tests are then unsupported, and lit says
# which directory to open, instead of failing on the loader's error.
def _second_user_blocker():
    import subprocess

    if os.getuid() != 0:
        return None
    lib = os.path.join(config.perm_lib_dir, "libpermrt.so")
    probe = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe += ["sh", "-c", 'cd "$1" && test -r "$2"', "sh"]
    probe += [config.test_exec_root, lib]
    try:
        if subprocess.run(probe, stderr=subprocess.DEVNULL).returncode == 0:
            return None
    except OSError:
        return "setpriv (util-linux) cannot run"
    d = config.test_exec_root
    while True:
        try:
            mode = os.stat(d).st_mode
        except OSError:
            mode = 0o001
        if not mode & 0o001:
            return (
                f"'{d}' (mode {mode & 0o7777:04o}) does not let other users"
                f" through: chmod o+x '{d}', or build elsewhere"
            )
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    return f"uid 65534 cannot read '{lib}' from '{config.test_exec_root}'"


_blocker = _second_user_blocker()
if _blocker is None:
    config.available_features.add("second-user")
else:
    lit_config.warning(
        "tests that run as a second user (uid 65534; REQUIRES: second-user)"
        f" are unsupported: {_blocker}"
    )
# PERM_LONG_TESTS=1: the long mode (test/torture: 1000 kills instead of a
# few dozen); tests say "%if long %{...%} %else %{...%}" or REQUIRES: long.
if os.environ.get("PERM_LONG_TESTS") == "1":
    config.available_features.add("long")
# Incremental checkpoints need the kernel's asynchronous write-protect
# (Linux 6.7+); elsewhere PERM writes full images, which tests check too.
try:
    release = os.uname().release.split("-")[0].split(".")
    if (int(release[0]), int(release[1])) >= (6, 7):
        config.available_features.add("wp-async")
except (ValueError, IndexError):
    pass
# A sanitizer build (scripts/sanitize.sh): asan where the tool and the image
# code carry ASan, which cannot start under a small 'ulimit -v' (its shadow).
if "address" in getattr(config, "perm_sanitize", ""):
    config.available_features.add("asan")
# Transparent huge pages for madvise'd memory ("always" or "madvise").
try:
    with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
        if "[never]" not in f.read():
            config.available_features.add("thp")
except OSError:
    pass
# libFuzzer with ASan and UBSan (Debian's libclang-rt-19-dev): test/fuzz.
def _clang_links(flags):
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "t.c")
        with open(src, "w") as f:
            f.write(
                "#include <stddef.h>\n#include <stdint.h>\n"
                "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
                " { (void)d; (void)n; return 0; }\n"
            )
        try:
            r = subprocess.run(
                [config.clang] + flags + [src, "-o", os.path.join(d, "t")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=120,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return r.returncode == 0


if _clang_links(["-fsanitize=fuzzer,address,undefined"]):
    config.available_features.add("libfuzzer")
