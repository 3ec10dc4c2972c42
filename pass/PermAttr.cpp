//===- PermAttr.cpp - The perm attribute and its diagnostics --------------===//
//
// Part of PERM.
//
//===----------------------------------------------------------------------===//
//
// PERM variables are variables with static storage duration that the
// runtime saves in an image and restores, by name, in the next run.  The
// attribute is rejected, with an error at the attribute, where that cannot
// work: functions, parameters, fields, typedefs, automatic and register
// variables, thread-local variables (one copy per thread), const and
// constexpr objects (never written) and references (never re-bound), and a
// variable placed in a section other than "persistent".
//
// Which checks run when:
//  - while parsing (PermAttrInfo): everything the declaration itself shows.
//    The declaration is not complete yet: its initialiser, a deduced type,
//    later redeclarations and template instantiations are still to come, so
//    the attribute only leaves a marker annotation ("perm").
//  - in the AST consumer, which runs before CodeGen's consumer: every
//    complete variable carrying the marker, instantiations included, is
//    checked again where parsing could not see (deduced types, a section
//    attribute after the attribute or on another declaration), warned about
//    where it persists addresses that ASLR moves, and completed: used,
//    retain and nocommon, and the marker replaced by the annotation that the
//    IR pass reads (PermRegistry.h).
//
// The section is not a SectionAttr: the IR pass puts each PERM global in
// section "persistent".  A SectionAttr added while parsing would turn a later
// section("other") into clang's "section does not match" warning and drop it;
// one added by the consumer, after Sema checked the declaration, makes Sema's
// end-of-file check of tentative definitions report a bogus "section type
// conflict" as soon as an initialised PERM variable was emitted before.
//
//===----------------------------------------------------------------------===//

#include "PermAttr.h"

#include "PermRegistry.h"
#include "PermTypeHash.h"

#include "perm_registry.h"

#include "clang/AST/ASTConsumer.h"
#include "clang/AST/ASTContext.h"
#include "clang/AST/Attr.h"
#include "clang/AST/Decl.h"
#include "clang/AST/DeclCXX.h"
#include "clang/AST/Expr.h"
#include "clang/AST/RecursiveASTVisitor.h"
#include "clang/Basic/SourceManager.h"
#include "clang/Frontend/CompilerInstance.h"
#include "clang/Lex/Lexer.h"
#include "clang/Sema/ParsedAttr.h"
#include "clang/Sema/Sema.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/raw_ostream.h"

#include <atomic>

using namespace clang;

/// Uses of the attribute seen by this process, and how many of them were on
/// static locals: while both are 0 the consumer has nothing to look for, and
/// while the second is 0 it need not look inside function bodies.
static std::atomic<unsigned> NumPermAttrs{0};
static std::atomic<unsigned> NumPermStaticLocals{0};

namespace {

enum class PermDiag {
  Arguments,
  Function,
  Parameter,
  Field,
  Typedef,
  NotVariable,
  Automatic,
  Register,
  ThreadLocal,
  Const,
  Constexpr,
  Reference,
  Section,
  SectionNote,
  InstantiationNote,
  FunctionPointer,
  StringLiteral,
};

} // namespace

static unsigned getDiagID(DiagnosticsEngine &DE, PermDiag Kind) {
  using D = DiagnosticsEngine;
  switch (Kind) {
  case PermDiag::Arguments:
    return DE.getCustomDiagID(
        D::Error, "'perm::persistent' attribute takes no arguments");
  case PermDiag::Function:
    return DE.getCustomDiagID(D::Error,
                              "'perm' cannot be applied to function %0: only "
                              "variables with static storage duration persist");
  case PermDiag::Parameter:
    return DE.getCustomDiagID(D::Error,
                              "'perm' cannot be applied to parameter %0: only "
                              "variables with static storage duration persist");
  case PermDiag::Field:
    return DE.getCustomDiagID(
        D::Error, "'perm' cannot be applied to field %0: apply it to the "
                  "variable that holds the structure");
  case PermDiag::Typedef:
    return DE.getCustomDiagID(D::Error,
                              "'perm' cannot be applied to typedef %0: apply "
                              "it to each variable of that type");
  case PermDiag::NotVariable:
    return DE.getCustomDiagID(D::Error, "'perm' only applies to variables with "
                                        "static storage duration");
  case PermDiag::Automatic:
    return DE.getCustomDiagID(D::Error,
                              "'perm' local variable %0 must be static: an "
                              "automatic variable does not outlive its call");
  case PermDiag::Register:
    return DE.getCustomDiagID(D::Error,
                              "'perm' cannot be applied to register variable "
                              "%0: only variables with static storage "
                              "duration persist");
  case PermDiag::ThreadLocal:
    return DE.getCustomDiagID(D::Error,
                              "'perm' cannot be applied to thread-local "
                              "variable %0: each thread has its own copy");
  case PermDiag::Const:
    return DE.getCustomDiagID(D::Error,
                              "'perm' variable %0 cannot be const: a constant "
                              "is never written, so there is nothing to save");
  case PermDiag::Constexpr:
    return DE.getCustomDiagID(D::Error,
                              "'perm' variable %0 cannot be constexpr: a "
                              "constant is never written, so there is "
                              "nothing to save");
  case PermDiag::Reference:
    return DE.getCustomDiagID(D::Error,
                              "'perm' cannot be applied to reference %0: a "
                              "reference cannot be re-bound on restore; use a "
                              "pointer");
  case PermDiag::Section:
    return DE.getCustomDiagID(D::Error,
                              "'perm' variable %0 cannot be placed in section "
                              "'%1': PERM variables live in section "
                              "'persistent'");
  case PermDiag::SectionNote:
    return DE.getCustomDiagID(D::Note, "section '%0' specified here");
  case PermDiag::InstantiationNote:
    return DE.getCustomDiagID(D::Note,
                              "in instantiation of '%0' requested here");
  case PermDiag::FunctionPointer:
    return DE.getCustomDiagID(
        D::Warning,
        "'perm' variable %0 holds function addresses, which change under "
        "ASLR in a position-independent program: restore needs the same "
        "binary at the same address (PERM re-executes with ASLR off, see "
        "README.PERM)");
  case PermDiag::StringLiteral:
    return DE.getCustomDiagID(
        D::Warning,
        "'perm' variable %0 points to a string literal, whose address changes "
        "under ASLR in a position-independent program: restore needs the same "
        "binary at the same address (PERM re-executes with ASLR off, see "
        "README.PERM)");
  }
  llvm_unreachable("unknown PERM diagnostic");
}

static DiagnosticBuilder report(DiagnosticsEngine &DE, SourceLocation Loc,
                                PermDiag Kind) {
  return DE.Report(Loc, getDiagID(DE, Kind));
}

/// True for the marker and for a completed annotation.
static bool isPermAnnotation(const AnnotateAttr *A) {
  StringRef Text = A->getAnnotation();
  return Text == perm::MarkerAnnotation ||
         Text.starts_with(perm::MarkerAnnotation.str() + ":");
}

/// The first marker or completed annotation on \p D, or null.
static AnnotateAttr *getPermAnnotation(const Decl *D) {
  for (auto *A : D->specific_attrs<AnnotateAttr>())
    if (isPermAnnotation(A))
      return A;
  return nullptr;
}

/// Diagnoses the properties of \p VD's type that rule out the attribute.
/// Returns false when it reported an error.
static bool checkVarType(DiagnosticsEngine &DE, SourceLocation Loc,
                         const VarDecl *VD) {
  QualType T = VD->getType();
  if (T->isReferenceType()) {
    report(DE, Loc, PermDiag::Reference) << VD;
    return false;
  }
  if (VD->isConstexpr()) {
    report(DE, Loc, PermDiag::Constexpr) << VD;
    return false;
  }
  if (T.isConstQualified() ||
      VD->getASTContext().getBaseElementType(T).isConstQualified()) {
    report(DE, Loc, PermDiag::Const) << VD;
    return false;
  }
  return true;
}

/// True when a scoped spelling, [[perm::persistent]], has an argument list.
/// Clang 19 looks plugin attributes up without their scope when it decides
/// whether to parse arguments (and in __has_cpp_attribute), so it skips the
/// list unseen instead of reporting it; look at the next token instead.
static bool hasSkippedArguments(Sema &S, const ParsedAttr &Attr) {
  if (!Attr.getScopeName() || Attr.getNumArgs() != 0)
    return false;
  const SourceManager &SM = S.getSourceManager();
  // The range ends at the name ("persistent"); it begins at the scope.
  SourceLocation Name = SM.getSpellingLoc(Attr.getRange().getEnd());
  std::optional<Token> Next = Lexer::findNextToken(Name, SM, S.getLangOpts());
  return Next && Next->is(tok::l_paren);
}

perm::PermAttrInfo::PermAttrInfo() {
  static constexpr Spelling S[] = {
      {ParsedAttr::AS_GNU, "perm"},
      {ParsedAttr::AS_C23, "perm"},
      {ParsedAttr::AS_CXX11, "perm"},
      {ParsedAttr::AS_C23, "perm::persistent"},
      {ParsedAttr::AS_CXX11, "perm::persistent"},
  };
  Spellings = S;
  // No arguments: Sema reports "'perm' attribute takes no arguments", except
  // for the scoped spelling (see hasSkippedArguments).
  NumArgs = 0;
  OptArgs = 0;
}

bool perm::PermAttrInfo::diagAppertainsToDecl(Sema &S, const ParsedAttr &Attr,
                                              const Decl *D) const {
  DiagnosticsEngine &DE = S.getDiagnostics();
  PermDiag Kind;
  if (isa<ParmVarDecl>(D))
    Kind = PermDiag::Parameter;
  else if (isa<VarDecl>(D))
    return true;
  else if (isa<FunctionDecl>(D) || isa<FunctionTemplateDecl>(D))
    Kind = PermDiag::Function;
  else if (isa<FieldDecl>(D))
    Kind = PermDiag::Field;
  else if (isa<TypedefNameDecl>(D))
    Kind = PermDiag::Typedef;
  else
    Kind = PermDiag::NotVariable;
  DiagnosticBuilder DB = report(DE, Attr.getLoc(), Kind);
  if (const auto *ND = dyn_cast<NamedDecl>(D))
    DB << ND;
  return false;
}

ParsedAttrInfo::AttrHandling
perm::PermAttrInfo::handleDeclAttribute(Sema &S, Decl *D,
                                        const ParsedAttr &Attr) const {
  auto *VD = cast<VarDecl>(D);
  DiagnosticsEngine &DE = S.getDiagnostics();
  SourceLocation Loc = Attr.getLoc();

  if (hasSkippedArguments(S, Attr)) {
    report(DE, Loc, PermDiag::Arguments);
    return AttributeNotApplied;
  }

  if (VD->getStorageClass() == SC_Register) {
    report(DE, Loc, PermDiag::Register) << VD;
    return AttributeNotApplied;
  }
  if (VD->hasLocalStorage()) {
    SourceManager &SM = S.getSourceManager();
    SourceLocation Start = SM.getExpansionLoc(VD->getBeginLoc());
    report(DE, Loc, PermDiag::Automatic)
        << VD << FixItHint::CreateInsertion(Start, "static ");
    return AttributeNotApplied;
  }
  if (VD->getTSCSpec() != TSCS_unspecified) {
    report(DE, Loc, PermDiag::ThreadLocal) << VD;
    return AttributeNotApplied;
  }
  // A dependent or undeduced type is checked again once it is known.
  if (!VD->getType()->isDependentType() && !checkVarType(DE, Loc, VD))
    return AttributeNotApplied;
  if (const auto *SA = VD->getAttr<SectionAttr>();
      SA && SA->getName() != PersistentSection) {
    report(DE, Loc, PermDiag::Section) << VD << SA->getName();
    report(DE, SA->getLocation(), PermDiag::SectionNote) << SA->getName();
    return AttributeNotApplied;
  }

  ASTContext &Ctx = S.getASTContext();
  VD->addAttr(AnnotateAttr::CreateImplicit(Ctx, MarkerAnnotation, nullptr, 0,
                                           Attr.getRange()));
  ++NumPermAttrs;
  if (VD->isStaticLocal()) {
    // A static local is a definition, and -Wunused-variable and
    // -Wunused-but-set-variable judge it at the end of its scope, before the
    // consumer sees it.  A PERM counter that is only ever incremented is
    // used: by the next run.
    VD->addAttr(UsedAttr::CreateImplicit(Ctx, Attr.getRange()));
    VD->addAttr(RetainAttr::CreateImplicit(Ctx, Attr.getRange()));
    VD->addAttr(UnusedAttr::CreateImplicit(Ctx, Attr.getRange()));
    ++NumPermStaticLocals;
  }
  return AttributeApplied;
}

namespace {

/// Completes PERM variables; see the file comment.
class PermConsumer : public ASTConsumer {
public:
  explicit PermConsumer(CompilerInstance &CI)
      : DE(CI.getDiagnostics()), Finder(*this) {}

  void Initialize(ASTContext &Context) override { Ctx = &Context; }

  bool HandleTopLevelDecl(DeclGroupRef DG) override {
    for (Decl *D : DG)
      walk(D);
    return true;
  }
  void HandleInterestingDecl(DeclGroupRef DG) override {
    HandleTopLevelDecl(DG);
  }
  void HandleInlineFunctionDefinition(FunctionDecl *FD) override { walk(FD); }
  void HandleCXXStaticMemberVarInstantiation(VarDecl *VD) override {
    complete(VD);
  }
  void CompleteTentativeDefinition(VarDecl *VD) override { complete(VD); }

  /// Gives \p VD its meaning if it is a PERM variable.
  void complete(VarDecl *VD);

private:
  /// Finds the variables inside a declaration: namespace and class members,
  /// and (once a static local carried the attribute) locals in bodies.
  class VarFinder : public RecursiveASTVisitor<VarFinder> {
  public:
    explicit VarFinder(PermConsumer &Consumer) : Consumer(Consumer) {}
    bool shouldWalkTypesOfTypeLocs() const { return false; }
    bool TraverseStmt(Stmt *S, DataRecursionQueue *Queue = nullptr) {
      if (NumPermStaticLocals == 0)
        return true;
      return RecursiveASTVisitor::TraverseStmt(S, Queue);
    }
    bool VisitVarDecl(VarDecl *VD) {
      Consumer.complete(VD);
      return true;
    }

  private:
    PermConsumer &Consumer;
  };

  void walk(Decl *D) {
    if (NumPermAttrs != 0)
      Finder.TraverseDecl(D);
  }
  bool check(VarDecl *VD);
  void warnAboutAddresses(const VarDecl *VD);
  perm::PermGlobalInfo describe(const VarDecl *VD);

  DiagnosticsEngine &DE;
  ASTContext *Ctx = nullptr;
  VarFinder Finder;
  /// Declarations already checked, to report each problem once.
  llvm::DenseSet<const VarDecl *> Checked;
  /// Definitions whose annotation is complete.
  llvm::DenseSet<const VarDecl *> Completed;
};

} // namespace

void PermConsumer::complete(VarDecl *VD) {
  AnnotateAttr *Annotation = getPermAnnotation(VD);
  if (!Annotation || VD->isInvalidDecl())
    return;
  // Templates: their instantiations arrive on their own.
  if (VD->getDeclContext()->isDependentContext() ||
      VD->getType()->isDependentType())
    return;
  if (Checked.insert(VD).second) {
    if (!check(VD))
      return; // With an error reported, CodeGen emits nothing.
    warnAboutAddresses(VD);
  }

  if (VD->isThisDeclarationADefinition() == VarDecl::DeclarationOnly ||
      VD->getType()->isIncompleteType())
    return;
  if (!VD->hasAttr<UsedAttr>())
    VD->addAttr(UsedAttr::CreateImplicit(*Ctx, Annotation->getRange()));
  if (!VD->hasAttr<RetainAttr>())
    VD->addAttr(RetainAttr::CreateImplicit(*Ctx, Annotation->getRange()));
  // A common symbol cannot be placed in a section (-fcommon).
  if (!VD->hasAttr<NoCommonAttr>())
    VD->addAttr(NoCommonAttr::CreateImplicit(*Ctx, Annotation->getRange()));
  if (!Completed.insert(VD).second)
    return;
  // One annotation, computed for this declaration, in place of its marker
  // and of the copies inherited from earlier declarations: CodeGen emits
  // every annotation of the definition it emits.
  SourceRange Range = Annotation->getRange();
  std::string Text = perm::formatPermAnnotation(describe(VD));
  llvm::erase_if(VD->getAttrs(), [](const Attr *A) {
    const auto *AA = dyn_cast<AnnotateAttr>(A);
    return AA && isPermAnnotation(AA);
  });
  VD->addAttr(AnnotateAttr::CreateImplicit(*Ctx, Text, nullptr, 0, Range));
}

/// The template instantiation that made \p VD, if any: the variable itself
/// (a static data member or variable template) or its function.
static const NamedDecl *getInstantiation(const VarDecl *VD) {
  if (isTemplateInstantiation(VD->getTemplateSpecializationKind()))
    return VD;
  if (VD->isStaticLocal())
    if (const auto *FD =
            dyn_cast<FunctionDecl>(VD->getParentFunctionOrMethod()))
      if (FD->isTemplateInstantiation())
        return FD;
  return nullptr;
}

bool PermConsumer::check(VarDecl *VD) {
  SourceLocation Loc = VD->getLocation();
  bool OK = true;
  if (const auto *SA = VD->getAttr<SectionAttr>();
      SA && SA->getName() != perm::PersistentSection) {
    report(DE, Loc, PermDiag::Section) << VD << SA->getName();
    if (SA->getLocation().isValid())
      report(DE, SA->getLocation(), PermDiag::SectionNote) << SA->getName();
    OK = false;
  } else {
    OK = checkVarType(DE, Loc, VD);
  }
  // The consumer runs after Sema's instantiation context is gone: say which
  // instantiation the error is about.
  if (!OK)
    if (const NamedDecl *Inst = getInstantiation(VD)) {
      SourceLocation Point =
          isa<VarDecl>(Inst)
              ? cast<VarDecl>(Inst)->getPointOfInstantiation()
              : cast<FunctionDecl>(Inst)->getPointOfInstantiation();
      std::string Name;
      llvm::raw_string_ostream OS(Name);
      Inst->getNameForDiagnostic(OS, Ctx->getPrintingPolicy(),
                                 /*Qualified=*/true);
      report(DE, Point, PermDiag::InstantiationNote) << Name;
    }
  return OK;
}

/// True when \p E is, or is a braced list containing, a string literal.
static bool containsStringLiteral(const Expr *E) {
  E = E->IgnoreParenCasts();
  if (isa<StringLiteral>(E))
    return true;
  if (const auto *ILE = dyn_cast<InitListExpr>(E))
    return llvm::any_of(ILE->inits(), [](const Expr *Init) {
      return Init && containsStringLiteral(Init);
    });
  return false;
}

void PermConsumer::warnAboutAddresses(const VarDecl *VD) {
  if (Ctx->getLangOpts().PICLevel == 0 ||
      VD->isThisDeclarationADefinition() == VarDecl::DeclarationOnly)
    return;
  QualType Elem = Ctx->getBaseElementType(VD->getType());
  if (Elem->isFunctionPointerType() || Elem->isMemberFunctionPointerType()) {
    report(DE, VD->getLocation(), PermDiag::FunctionPointer) << VD;
    return;
  }
  const Expr *Init = VD->getInit();
  if (Init && Elem->isPointerType() &&
      Elem->getPointeeType()->isAnyCharacterType() &&
      containsStringLiteral(Init))
    report(DE, VD->getLocation(), PermDiag::StringLiteral) << VD;
}

/// The registry name and flags of \p VD (see perm_registry.h):
///   external       C: name; C++: qualified name with template arguments
///   internal       "file.c:name" (basename of the main file)
///   static local   "function:name", with "file.c:" in front when the
///                  function is itself internal; in C++ the function's
///                  parameter types follow its name, so that overloads differ
/// The "file.c:" part is left to the IR pass (PermGlobalInfo::InFile).
perm::PermGlobalInfo PermConsumer::describe(const VarDecl *VD) {
  const LangOptions &LO = Ctx->getLangOpts();
  PrintingPolicy Policy(LO);
  Policy.PrintCanonicalTypes = true;
  Policy.AnonymousTagLocations = false; // "(lambda)", not a path and line

  perm::PermGlobalInfo Info;
  llvm::raw_string_ostream OS(Info.Name);
  auto PrintName = [&](const NamedDecl *ND) {
    if (LO.CPlusPlus)
      ND->getNameForDiagnostic(OS, Policy, /*Qualified=*/true);
    else
      OS << ND->getName();
  };

  if (VD->isStaticLocal()) {
    Info.Flags = PERM_REG_STATIC_LOCAL;
    const Decl *Parent = cast<Decl>(VD->getParentFunctionOrMethod());
    if (const auto *FD = dyn_cast<FunctionDecl>(Parent)) {
      Info.InFile = !FD->isExternallyVisible();
      PrintName(FD);
      if (LO.CPlusPlus) {
        OS << '(';
        llvm::interleave(
            FD->parameters(), OS,
            [&](const ParmVarDecl *P) { P->getType().print(OS, Policy); },
            ", ");
        OS << ')';
      }
    } else {
      Info.InFile = true;
      OS << "(block)";
    }
    OS << ':' << VD->getName();
  } else if (VD->isExternallyVisible()) {
    Info.Flags = PERM_REG_EXTERNAL;
    if (VD->isExternC())
      OS << VD->getName();
    else
      PrintName(VD);
  } else {
    Info.Flags = PERM_REG_FILE_STATIC;
    Info.InFile = true;
    PrintName(VD);
  }
  if (LO.CPlusPlus)
    Info.Flags |= PERM_REG_CXX;
  Info.TypeHash = perm::computeTypeHash(*Ctx, VD->getType());
  return Info;
}

std::unique_ptr<ASTConsumer> perm::createPermConsumer(CompilerInstance &CI) {
  return std::make_unique<PermConsumer>(CI);
}
