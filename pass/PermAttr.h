//===- PermAttr.h - The perm attribute --------------------------*- C++ -*-===//
//
// Part of PERM.
//
//===----------------------------------------------------------------------===//
//
// The attribute is handled in two steps.  PermAttrInfo checks each use as it
// is parsed and leaves a marker on the variable; the AST consumer made by
// createPermConsumer() sees every complete variable before CodeGen does and
// gives it its meaning: used and retain, and the annotation that carries its
// registry name, flags and type hash to the IR pass (PermRegistry.h), which
// places it in section "persistent".
//
//===----------------------------------------------------------------------===//

#ifndef PERM_PASS_PERMATTR_H
#define PERM_PASS_PERMATTR_H

#include "clang/Basic/ParsedAttrInfo.h"

#include <memory>

namespace clang {
class ASTConsumer;
class CompilerInstance;
} // namespace clang

namespace perm {

/// __attribute__((perm)), [[perm]] and [[perm::persistent]], in C and C++.
struct PermAttrInfo : clang::ParsedAttrInfo {
  PermAttrInfo();
  bool diagAppertainsToDecl(clang::Sema &S, const clang::ParsedAttr &Attr,
                            const clang::Decl *D) const override;
  AttrHandling
  handleDeclAttribute(clang::Sema &S, clang::Decl *D,
                      const clang::ParsedAttr &Attr) const override;
};

/// The consumer that completes PERM variables.  It must run before CodeGen's
/// consumer (PluginASTAction::AddBeforeMainAction).
std::unique_ptr<clang::ASTConsumer>
createPermConsumer(clang::CompilerInstance &CI);

} // namespace perm

#endif // PERM_PASS_PERMATTR_H
