//===- PermRegistry.cpp - Emit the registry of persistent globals ---------===//
//
// Part of PERM.
//
//===----------------------------------------------------------------------===//
//
// For every global that the frontend annotated (see PermRegistry.h), the
// pass emits a constant perm_registry_entry_t into section "perm_registry":
//
//   @perm.entry.x = private constant { i32, i32, ptr, ptr, i64, i64, i64 }
//       { i32 1, i32 1, ptr @perm.name.x, ptr @x, i64 4, i64 4, i64 <hash> },
//       section "perm_registry", align 8
//
// and, once per module, a constructor and a destructor
//
//   perm.module_ctor: perm__registry_add(__start_perm_registry,
//                                        __stop_perm_registry)
//   perm.module_dtor: perm__registry_remove(...)
//
// that are linkonce_odr, hidden, each in its own comdat, and listed in
// llvm.global_ctors/llvm.global_dtors with themselves as the associated
// global: the linker keeps one comdat group per executable or shared object,
// so every linked module registers its whole section exactly once, and a
// ThinLTO backend that does not own the prevailing copy emits no
// .init_array slot for it.  __start_/__stop_ are extern_weak and hidden, so
// each module sees its own section.
//
// Entries and PERM variables are kept alive by llvm.used, which ELF targets
// lower to SHF_GNU_RETAIN: --gc-sections keeps them with ld.bfd and lld
// alike, without relying on __start_ references (lld's -z start-stop-gc
// ignores those), and so does LTO.  An entry for a variable that may be
// defined in several translation units (C++ inline variables, template
// static members, static locals of inline functions, weak variables) is
// linkonce_odr in the variable's comdat, so the linker keeps one entry per
// variable.
//
//===----------------------------------------------------------------------===//

#include "PermRegistry.h"

#include "perm_registry.h"

#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Demangle/Demangle.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/DataLayout.h"
#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/DiagnosticPrinter.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/Path.h"
#include "llvm/TargetParser/Triple.h"
#include "llvm/Transforms/Utils/ModuleUtils.h"

#include <cstddef>

using namespace llvm;

// The IR struct below is built field by field from this layout.
static_assert(sizeof(perm_registry_entry_t) == 48, "registry entry size");
static_assert(alignof(perm_registry_entry_t) == 8, "registry entry align");
static_assert(offsetof(perm_registry_entry_t, flags) == 4, "layout");
static_assert(offsetof(perm_registry_entry_t, name) == 8, "layout");
static_assert(offsetof(perm_registry_entry_t, addr) == 16, "layout");
static_assert(offsetof(perm_registry_entry_t, size) == 24, "layout");
static_assert(offsetof(perm_registry_entry_t, align) == 32, "layout");
static_assert(offsetof(perm_registry_entry_t, type_hash) == 40, "layout");

/// Runs the module constructor before constructors of default priority, so
/// that the runtime knows every global before user code can call perm_open.
static constexpr int RegistryCtorPriority = 101;

static constexpr StringLiteral AnnotationPrefix = "perm:";

std::string perm::formatPermAnnotation(const PermGlobalInfo &Info) {
  return (Twine(AnnotationPrefix) + "flags=0x" + utohexstr(Info.Flags) +
          ";type=0x" + utohexstr(Info.TypeHash) +
          (Info.InFile ? ";in=file" : "") + ";name=" + Info.Name)
      .str();
}

/// Consumes "Key=0x<hex>;" from the front of \p S.
static bool consumeHexField(StringRef &S, StringRef Key, uint64_t &Value) {
  if (!S.consume_front(Key) || !S.consume_front("=0x"))
    return false;
  size_t End = S.find(';');
  if (End == StringRef::npos || S.take_front(End).getAsInteger(16, Value))
    return false;
  S = S.drop_front(End + 1);
  return true;
}

std::optional<perm::PermGlobalInfo> perm::parsePermAnnotation(StringRef S) {
  uint64_t Flags, Hash;
  if (!S.consume_front(AnnotationPrefix) ||
      !consumeHexField(S, "flags", Flags) || Flags > UINT32_MAX ||
      !consumeHexField(S, "type", Hash))
    return std::nullopt;
  PermGlobalInfo Info;
  Info.InFile = S.consume_front("in=file;");
  if (!S.consume_front("name=") || S.empty())
    return std::nullopt;
  Info.Flags = static_cast<uint32_t>(Flags);
  Info.TypeHash = Hash;
  Info.Name = S.str();
  return Info;
}

namespace {

/// A message of the pass, reported through the host's diagnostic handler
/// (clang prints it as an error or warning with the pass's name).
class PermDiagnostic : public DiagnosticInfo {
public:
  PermDiagnostic(const Twine &Msg, DiagnosticSeverity Severity)
      : DiagnosticInfo(getKind(), Severity), Msg(Msg) {}

  void print(DiagnosticPrinter &DP) const override {
    DP << "perm-registry: " << Msg;
  }

private:
  static int getKind() {
    static const int Kind = getNextAvailablePluginDiagnosticKind();
    return Kind;
  }

  const Twine &Msg;
};

/// A PERM global and what the frontend said about it.
struct PermGlobal {
  GlobalVariable *GV;
  perm::PermGlobalInfo Info;
  bool Complete; ///< Info came from a complete annotation
};

/// Builds the registry of one module.
class RegistryBuilder {
public:
  explicit RegistryBuilder(Module &M);

  /// Removes the PERM annotations from llvm.global.annotations and returns
  /// the globals they named.
  SmallVector<PermGlobal, 8> takeAnnotatedGlobals();
  void emitEntry(const PermGlobal &G);
  void emitModuleStructors();

private:
  void diagnose(const Twine &Msg, DiagnosticSeverity Severity = DS_Error);
  void completeFromIR(PermGlobal &G);
  Function *createStructor(StringRef Name, StringRef Callee);
  GlobalVariable *getSectionBound(StringRef Name);

  Module &M;
  LLVMContext &Ctx;
  const DataLayout &DL;
  Type *I32, *I64, *Ptr;
  StructType *EntryTy;
  bool HasComdats;
};

} // namespace

RegistryBuilder::RegistryBuilder(Module &M)
    : M(M), Ctx(M.getContext()), DL(M.getDataLayout()) {
  I32 = Type::getInt32Ty(Ctx);
  I64 = Type::getInt64Ty(Ctx);
  Ptr = PointerType::getUnqual(Ctx);
  // version, flags, name, addr, size, align, type_hash.
  EntryTy = StructType::get(Ctx, {I32, I32, Ptr, Ptr, I64, I64, I64});
  HasComdats = Triple(M.getTargetTriple()).supportsCOMDAT();
}

void RegistryBuilder::diagnose(const Twine &Msg, DiagnosticSeverity Severity) {
  Ctx.diagnose(PermDiagnostic(Msg, Severity));
}

/// The C string an annotation operand points to, or "".
static StringRef annotationText(Value *V) {
  auto *GV = dyn_cast<GlobalVariable>(V->stripPointerCasts());
  if (!GV || !GV->hasInitializer())
    return "";
  auto *Data = dyn_cast<ConstantDataSequential>(GV->getInitializer());
  return Data && Data->isCString() ? Data->getAsCString() : "";
}

SmallVector<PermGlobal, 8> RegistryBuilder::takeAnnotatedGlobals() {
  SmallVector<PermGlobal, 8> Found;
  GlobalVariable *Annotations = M.getNamedGlobal("llvm.global.annotations");
  if (!Annotations || !Annotations->hasInitializer())
    return Found;
  auto *Array = dyn_cast<ConstantArray>(Annotations->getInitializer());
  if (!Array)
    return Found;

  SmallVector<Constant *, 8> Kept;
  SmallPtrSet<GlobalVariable *, 8> MaybeDead;
  for (Value *Op : Array->operands()) {
    auto *Annotation = dyn_cast<ConstantStruct>(Op);
    StringRef Text = Annotation && Annotation->getNumOperands() >= 2
                         ? annotationText(Annotation->getOperand(1))
                         : "";
    if (Text != perm::MarkerAnnotation && !Text.starts_with(AnnotationPrefix)) {
      Kept.push_back(cast<Constant>(Op));
      continue;
    }
    // The annotation and file name strings, unless other annotations or code
    // use them too.
    for (unsigned I : {1u, 2u})
      if (I < Annotation->getNumOperands())
        if (auto *Str = dyn_cast<GlobalVariable>(
                Annotation->getOperand(I)->stripPointerCasts()))
          MaybeDead.insert(Str);

    auto *GV = dyn_cast<GlobalVariable>(
        Annotation->getOperand(0)->stripPointerCasts());
    if (!GV || GV->isDeclarationForLinker())
      continue;
    // One entry per global, even if it was annotated twice; a complete
    // annotation wins over a bare marker.
    auto Prev =
        llvm::find_if(Found, [&](const PermGlobal &G) { return G.GV == GV; });
    if (Text == perm::MarkerAnnotation) {
      if (Prev == Found.end())
        Found.push_back({GV, {}, /*Complete=*/false});
      continue;
    }
    std::optional<perm::PermGlobalInfo> Info = perm::parsePermAnnotation(Text);
    if (!Info) {
      diagnose("malformed annotation '" + Text + "' on @" + GV->getName());
      continue;
    }
    if (Prev == Found.end()) {
      Found.push_back({GV, std::move(*Info), /*Complete=*/true});
    } else if (!Prev->Complete) {
      Prev->Info = std::move(*Info);
      Prev->Complete = true;
    }
  }
  for (PermGlobal &G : Found)
    if (!G.Complete)
      completeFromIR(G);
  if (Found.empty() && MaybeDead.empty())
    return Found;

  // Replace the array by one without our annotations.
  if (Kept.empty()) {
    Annotations->eraseFromParent();
  } else {
    auto *NewTy =
        ArrayType::get(Array->getType()->getElementType(), Kept.size());
    auto *NewGV = new GlobalVariable(
        M, NewTy, Annotations->isConstant(), Annotations->getLinkage(),
        ConstantArray::get(NewTy, Kept), "", Annotations);
    NewGV->setSection(Annotations->getSection());
    NewGV->takeName(Annotations);
    Annotations->eraseFromParent();
  }
  for (GlobalVariable *Str : MaybeDead) {
    Str->removeDeadConstantUsers();
    if (Str->use_empty() && Str->hasLocalLinkage())
      Str->eraseFromParent();
  }
  return Found;
}

/// A variable that the frontend marked but never completed: it has no type
/// hash.  This is a bug in the plugin; the variable is still registered,
/// under its IR name, so that it persists.
void RegistryBuilder::completeFromIR(PermGlobal &G) {
  diagnose("@" + G.GV->getName() +
               " has no type information; it is registered without a type "
               "check (please report this as a PERM bug)",
           DS_Warning);
  G.Info.Flags =
      G.GV->hasLocalLinkage() ? PERM_REG_FILE_STATIC : PERM_REG_EXTERNAL;
  G.Info.TypeHash = 0;
  G.Info.Name = demangle(G.GV->getName());
}

void RegistryBuilder::emitEntry(const PermGlobal &G) {
  GlobalVariable *GV = G.GV;
  if (GV->hasSection() && GV->getSection() != perm::PersistentSection) {
    diagnose("@" + GV->getName() + " is in section '" + GV->getSection() +
             "', not '" + perm::PersistentSection + "'");
    return;
  }
  GV->setSection(perm::PersistentSection);
  appendToUsed(M, {GV});

  // An entry for a variable that several objects may define goes into the
  // variable's comdat, or a comdat of its own, so that the linker keeps one.
  std::string EntryName = ("perm.entry." + GV->getName()).str();
  Comdat *C = GV->getComdat();
  if (!C && HasComdats && !GV->hasLocalLinkage() &&
      !GV->isStrongDefinitionForLinker())
    C = M.getOrInsertComdat(EntryName);
  bool Shared = C && !GV->hasLocalLinkage();

  std::string Name = G.Info.Name;
  if (G.Info.InFile)
    Name = (sys::path::filename(M.getSourceFileName()) + ":" + Name).str();
  Constant *NameInit = ConstantDataArray::getString(Ctx, Name);
  auto *NameGV = new GlobalVariable(M, NameInit->getType(), /*isConstant=*/true,
                                    GlobalValue::PrivateLinkage, NameInit,
                                    "perm.name." + GV->getName());
  NameGV->setUnnamedAddr(GlobalValue::UnnamedAddr::Global);
  NameGV->setAlignment(Align(1));
  // Not in the entry's comdat: the optimiser merges equal unnamed_addr
  // strings, and code elsewhere that ended up pointing at a string in a
  // comdat the linker discards would not link.

  MaybeAlign VarAlign = GV->getAlign();
  uint64_t AlignValue =
      VarAlign ? VarAlign->value() : GV->getPointerAlignment(DL).value();
  Constant *Fields[] = {
      ConstantInt::get(I32, PERM_REGISTRY_VERSION),
      ConstantInt::get(I32, G.Info.Flags),
      NameGV,
      GV,
      ConstantInt::get(I64, DL.getTypeAllocSize(GV->getValueType())),
      ConstantInt::get(I64, AlignValue),
      ConstantInt::get(I64, G.Info.TypeHash),
  };
  auto *Entry = new GlobalVariable(
      M, EntryTy, /*isConstant=*/true,
      Shared ? GlobalValue::LinkOnceODRLinkage : GlobalValue::PrivateLinkage,
      ConstantStruct::get(EntryTy, Fields), EntryName);
  if (Shared)
    Entry->setVisibility(GlobalValue::HiddenVisibility);
  Entry->setComdat(C);
  Entry->setSection(PERM_REGISTRY_SECTION);
  Entry->setAlignment(Align(alignof(perm_registry_entry_t)));
  assert(DL.getTypeAllocSize(EntryTy) == sizeof(perm_registry_entry_t) &&
         "entries must pack the section without padding");
  appendToUsed(M, {Entry});
}

GlobalVariable *RegistryBuilder::getSectionBound(StringRef Name) {
  if (GlobalVariable *GV = M.getNamedGlobal(Name))
    return GV;
  auto *GV =
      new GlobalVariable(M, Type::getInt8Ty(Ctx), /*isConstant=*/false,
                         GlobalValue::ExternalWeakLinkage, nullptr, Name);
  GV->setVisibility(GlobalValue::HiddenVisibility);
  return GV;
}

/// Defines "void Name(void) { if (Callee) Callee(__start_perm_registry,
/// __stop_perm_registry); }" as a linkonce_odr hidden function in a comdat of
/// the same name.  Callee is an extern_weak declaration: a module built with
/// the plugin links and loads without libpermrt (a program run under
/// libperm-preload.so, which exports the callees, or with no runtime at all,
/// where its globals are simply not registered).
Function *RegistryBuilder::createStructor(StringRef Name, StringRef Callee) {
  Type *Void = Type::getVoidTy(Ctx);
  FunctionCallee Target =
      M.getOrInsertFunction(Callee, FunctionType::get(Void, {Ptr, Ptr}, false));
  if (auto *Decl = dyn_cast<Function>(Target.getCallee());
      Decl && Decl->isDeclaration())
    Decl->setLinkage(GlobalValue::ExternalWeakLinkage);
  Function *F = Function::Create(FunctionType::get(Void, false),
                                 GlobalValue::LinkOnceODRLinkage, Name, M);
  F->setVisibility(GlobalValue::HiddenVisibility);
  if (HasComdats)
    F->setComdat(M.getOrInsertComdat(Name));
  F->addFnAttr(Attribute::NoUnwind);
  BasicBlock *Entry = BasicBlock::Create(Ctx, "", F);
  BasicBlock *Call = BasicBlock::Create(Ctx, "register", F);
  BasicBlock *Done = BasicBlock::Create(Ctx, "done", F);
  IRBuilder<> B(Entry);
  Value *Present = B.CreateICmpNE(Target.getCallee(),
                                  Constant::getNullValue(Ptr), "present");
  B.CreateCondBr(Present, Call, Done);
  B.SetInsertPoint(Call);
  B.CreateCall(Target, {getSectionBound("__start_" PERM_REGISTRY_SECTION),
                        getSectionBound("__stop_" PERM_REGISTRY_SECTION)});
  B.CreateBr(Done);
  B.SetInsertPoint(Done);
  B.CreateRetVoid();
  return F;
}

void RegistryBuilder::emitModuleStructors() {
  if (!M.getFunction("perm.module_ctor")) {
    Function *Ctor = createStructor("perm.module_ctor", "perm__registry_add");
    appendToGlobalCtors(M, Ctor, RegistryCtorPriority,
                        HasComdats ? Ctor : nullptr);
  }
  if (!M.getFunction("perm.module_dtor")) {
    Function *Dtor =
        createStructor("perm.module_dtor", "perm__registry_remove");
    appendToGlobalDtors(M, Dtor, RegistryCtorPriority,
                        HasComdats ? Dtor : nullptr);
  }
}

PreservedAnalyses perm::PermRegistryPass::run(Module &M,
                                              ModuleAnalysisManager &) {
  RegistryBuilder Builder(M);
  SmallVector<PermGlobal, 8> Globals = Builder.takeAnnotatedGlobals();
  if (Globals.empty())
    return PreservedAnalyses::all();
  for (const PermGlobal &G : Globals)
    Builder.emitEntry(G);
  Builder.emitModuleStructors();
  return PreservedAnalyses::none();
}

void perm::registerPermRegistryPass(PassBuilder &PB) {
  PB.registerPipelineParsingCallback(
      [](StringRef Name, ModulePassManager &MPM,
         ArrayRef<PassBuilder::PipelineElement>) {
        if (Name != "perm-registry")
          return false;
        MPM.addPass(PermRegistryPass());
        return true;
      });
  // At the start of the pipeline, so that the registry is in the bitcode of
  // an -flto or -flto=thin compile and no optimisation sees a PERM global
  // without its uses in the registry.
  PB.registerPipelineStartEPCallback(
      [](ModulePassManager &MPM, OptimizationLevel) {
        MPM.addPass(PermRegistryPass());
      });
}
