//===- ClangPlugin.cpp - libperm-clang.so, the plugin inside clang --------===//
//
// Part of PERM.
//
//===----------------------------------------------------------------------===//
//
// Registers the attribute (PermAttrInfo) and a frontend action that runs
// before the main action.  Its AST consumer completes PERM variables before
// CodeGen sees them, and it puts the IR pass into this compilation's
// pipeline: -fplugin never calls llvmGetPassPluginInfo, but
// CodeGenOptions::PassBuilderCallbacks is called with the PassBuilder that
// EmitBackendOutput builds, for every -O level and for the pre-link half of
// -flto and -flto=thin.  This is the in-process form of adding
// -fpass-plugin=<this module>: no second dlopen, no search for our own path.
//
// Users load libperm.so, which loads this module when clang is the host
// (Plugin.cpp); loading this module directly with -fplugin works as well.
//
//===----------------------------------------------------------------------===//

#include "PermAttr.h"
#include "PermRegistry.h"

#include "clang/AST/ASTConsumer.h"
#include "clang/Basic/Diagnostic.h"
#include "clang/Frontend/CompilerInstance.h"
#include "clang/Frontend/FrontendPluginRegistry.h"
#include "llvm/Passes/PassBuilder.h"

using namespace clang;

namespace {

class PermAction : public PluginASTAction {
protected:
  std::unique_ptr<ASTConsumer> CreateASTConsumer(CompilerInstance &CI,
                                                 StringRef) override {
    CI.getCodeGenOpts().PassBuilderCallbacks.push_back(
        perm::registerPermRegistryPass);
    return perm::createPermConsumer(CI);
  }

  bool ParseArgs(const CompilerInstance &CI,
                 const std::vector<std::string> &Args) override {
    DiagnosticsEngine &DE = CI.getDiagnostics();
    for (const std::string &Arg : Args)
      DE.Report(DE.getCustomDiagID(DiagnosticsEngine::Error,
                                   "the perm plugin takes no arguments, got "
                                   "'%0'"))
          << Arg;
    return Args.empty();
  }

  ActionType getActionType() override { return AddBeforeMainAction; }
};

} // namespace

static FrontendPluginRegistry::Add<PermAction>
    Action("perm", "complete PERM variables and emit their registry");
static ParsedAttrInfoRegistry::Add<perm::PermAttrInfo>
    Attribute("perm", "marks a variable persistent");
