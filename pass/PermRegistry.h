//===- PermRegistry.h - The perm-registry module pass -----------*- C++ -*-===//
//
// Part of PERM.
//
//===----------------------------------------------------------------------===//
//
// The frontend (PermAttr.cpp) tells the pass which globals are persistent,
// and what the AST knows about them, through one annotation per variable in
// llvm.global.annotations:
//
//   perm:flags=0x9;type=0x0123456789abcdef;name=ns::counter
//   perm:flags=0x4;type=0x0123456789abcdef;in=file;name=tick:calls
//
// "in=file" marks a name that is unique only within its translation unit
// (file statics, static locals of internal functions): the pass puts the
// basename of the module's source file and a colon in front of it.  The
// frontend cannot: a declaration read from a precompiled header was
// completed while the header was compiled, and would carry its name.
//
// An annotation is the one channel from a plugin's AST consumer to the IR
// that clang's CodeGen already carries per global (the consumer cannot reach
// the llvm::Module), that survives -emit-llvm and llvm-link, and that a
// hand-written .ll test can supply.  The pass consumes the annotations it
// handles, so running it twice emits each entry once.
//
//===----------------------------------------------------------------------===//

#ifndef PERM_PASS_PERMREGISTRY_H
#define PERM_PASS_PERMREGISTRY_H

#include "llvm/ADT/StringRef.h"
#include "llvm/IR/PassManager.h"

#include <cstdint>
#include <optional>
#include <string>

namespace llvm {
class PassBuilder;
} // namespace llvm

namespace perm {

/// The section that holds PERM variables (PERM_START/PERM_END bound it).
constexpr llvm::StringLiteral PersistentSection = "persistent";

/// The annotation the attribute leaves until the AST consumer has seen the
/// complete variable; the pass does not accept it (see PermAttr.cpp).
constexpr llvm::StringLiteral MarkerAnnotation = "perm";

/// What the frontend knows of one PERM variable.
struct PermGlobalInfo {
  uint32_t Flags = 0;    ///< PERM_REG_* of perm_registry.h
  uint64_t TypeHash = 0; ///< computeTypeHash() of the variable's type
  bool InFile = false;   ///< Name is relative to the translation unit
  std::string Name;      ///< the registry name (may contain any character)
};

/// The annotation string for \p Info.
std::string formatPermAnnotation(const PermGlobalInfo &Info);

/// The information in annotation \p S, or std::nullopt when \p S is not a
/// well-formed PERM annotation.
std::optional<PermGlobalInfo> parsePermAnnotation(llvm::StringRef S);

/// Emits the registry of the module's PERM globals: one perm_registry_entry_t
/// per variable in section "perm_registry", and one constructor/destructor
/// pair per linked module that hands the section to the runtime.
class PermRegistryPass : public llvm::PassInfoMixin<PermRegistryPass> {
public:
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &);
  static bool isRequired() { return true; }
};

/// Makes "perm-registry" known to -passes= and runs the pass at the start of
/// every default pipeline (-O0 to -O3, and the pre-link half of -flto and
/// -flto=thin).
void registerPermRegistryPass(llvm::PassBuilder &PB);

} // namespace perm

#endif // PERM_PASS_PERMREGISTRY_H
