//===- Plugin.cpp - libperm.so entry points -------------------------------===//
//
// Part of PERM.
//
//===----------------------------------------------------------------------===//
//
// libperm.so is what users name, in either host:
//
//   clang-19 -fplugin=libperm.so ...
//   opt -load-pass-plugin=libperm.so -passes=perm-registry ...
//
// It holds the IR pass and nothing that needs clang, because opt cannot load
// a module that needs clang's symbols: they would be unresolved, and bringing
// in libclang-cpp.so registers command-line options that opt defines too
// (LLVM aborts on "registered more than once").  When clang is the host, a
// constructor loads the clang half, libperm-clang.so from the directory of
// the file (ClangPlugin.cpp), which registers the attribute and the action
// before clang looks at its plugin registries.
//
//===----------------------------------------------------------------------===//

#include "PermRegistry.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Passes/PassPlugin.h"
#include "llvm/Support/Compiler.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <dlfcn.h>

/// The module with the clang half, next to this one.
static constexpr const char ClangHalf[] = "libperm-clang.so";

/// A symbol that exists only where clang's plugin registry does:
/// llvm::Registry<clang::PluginASTAction>::add_node.
static constexpr const char ClangRegistrySymbol[] =
    "_ZN4llvm8RegistryIN5clang15PluginASTActionEE8add_nodeEPNS3_4nodeE";

/// Ends the compilation, as clang's own failure to load a plugin does: a
/// compilation that went on without the attribute would build a program
/// whose globals are not restored by name.  This runs inside dlopen, before
/// clang has diagnostics or output files; report_fatal_error would be
/// dressed up as a compiler crash.
[[noreturn]] static void fail(const llvm::Twine &Msg) {
  llvm::errs() << "error: libperm.so: " << Msg << "\n";
  std::_Exit(1);
}

__attribute__((constructor)) static void loadClangHalf() {
  if (!dlsym(RTLD_DEFAULT, ClangRegistrySymbol))
    return; // opt, or another host without clang's frontend.
  Dl_info Self;
  if (!dladdr(reinterpret_cast<void *>(&loadClangHalf), &Self) ||
      !Self.dli_fname)
    fail(llvm::Twine("cannot find its own path to load ") + ClangHalf);
  // Next to the file itself: a symbolic link to libperm.so elsewhere works.
  llvm::SmallString<256> Path;
  if (llvm::sys::fs::real_path(Self.dli_fname, Path))
    Path = Self.dli_fname;
  llvm::sys::path::remove_filename(Path);
  llvm::sys::path::append(Path, ClangHalf);
  // RTLD_NOW: a mismatch with this clang fails here, not in mid-compile.
  if (!dlopen(Path.c_str(), RTLD_NOW | RTLD_LOCAL))
    fail(llvm::Twine("cannot load ") + ClangHalf + ": " + dlerror());
}

extern "C" LLVM_ATTRIBUTE_VISIBILITY_DEFAULT ::llvm::PassPluginLibraryInfo
llvmGetPassPluginInfo() {
  return {LLVM_PLUGIN_API_VERSION, "PERM", LLVM_VERSION_STRING,
          perm::registerPermRegistryPass};
}
