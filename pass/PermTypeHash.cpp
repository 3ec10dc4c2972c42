//===- PermTypeHash.cpp - Layout hash of a persistent variable's type -----===//
//
// Part of PERM.
//
//===----------------------------------------------------------------------===//
//
// The hash is a Merkle tree over the canonical type: every type node hashes a
// one-byte tag, its own properties as little-endian 64-bit integers, and the
// hashes of its children, with XXH3 (llvm::xxh3_64bits, whose output is
// fixed by its specification).  Nothing that varies between runs enters it:
// no pointers, no enum values of clang's internal type classes (they are
// regenerated between clang versions), no names except where nothing else is
// known (a record never defined in the translation unit).
//
// Records that refer to themselves through pointers are cut at the cycle: a
// record already being hashed contributes its distance from the top of the
// stack, which does not depend on its name.  To keep the cost linear, a
// record's hash is cached when its subtree refers to no record below it on
// the stack, and pointers are followed TypeHashPointerDepth levels deep.
//
//===----------------------------------------------------------------------===//

#include "PermTypeHash.h"

#include "clang/AST/ASTContext.h"
#include "clang/AST/DeclCXX.h"
#include "clang/AST/PrettyPrinter.h"
#include "clang/AST/RecordLayout.h"
#include "clang/AST/Type.h"
#include "clang/Basic/LangOptions.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/xxhash.h"

#include <algorithm>
#include <climits>

using namespace clang;

namespace {

/// The bytes of one node of the hash tree.
class HashNode {
public:
  explicit HashNode(char Tag) { Bytes.push_back(Tag); }

  HashNode &add(uint64_t V) {
    char Buf[sizeof(V)];
    llvm::support::endian::write64le(Buf, V);
    Bytes.append(Buf, Buf + sizeof(Buf));
    return *this;
  }

  HashNode &add(llvm::StringRef S) {
    add(S.size());
    Bytes.append(S.begin(), S.end());
    return *this;
  }

  uint64_t finish() const { return llvm::xxh3_64bits(Bytes.str()); }

private:
  llvm::SmallString<64> Bytes;
};

class TypeHasher {
public:
  explicit TypeHasher(const ASTContext &Ctx)
      : Ctx(Ctx), Policy(DefaultLangOpts) {}

  uint64_t hashType(QualType T, unsigned Budget);

private:
  uint64_t hashRecord(const RecordDecl *RD, unsigned Budget);
  uint64_t hashPointee(QualType T, unsigned Budget);
  uint64_t hashShallow(QualType T);
  void addSize(HashNode &N, QualType T);

  const ASTContext &Ctx;
  /// Builtin types are named as in C with default options, whatever the
  /// language of the translation unit, so that a header's struct hashes the
  /// same in C and C++ ("_Bool", not "bool").
  LangOptions DefaultLangOpts;
  PrintingPolicy Policy;
  /// Records being hashed, outermost first.
  llvm::SmallVector<const RecordDecl *, 8> Stack;
  /// Smallest index into Stack that a cycle cut referred to since the
  /// current record was pushed.
  unsigned MinBackRef = UINT_MAX;
  /// Hashes of records whose subtree refers to no enclosing record, by
  /// remaining pointer budget.
  llvm::DenseMap<std::pair<const RecordDecl *, unsigned>, uint64_t> Cache;
};

} // namespace

/// A code for the kind of tag: struct and class lay out alike.
static uint64_t tagCode(const TagDecl *TD) {
  return TD->isUnion() ? 'U' : TD->isEnum() ? 'E' : 'S';
}

void TypeHasher::addSize(HashNode &N, QualType T) {
  if (T->isIncompleteType() || T->isFunctionType() || T->isSizelessType()) {
    N.add(UINT64_MAX);
    return;
  }
  N.add(Ctx.getTypeSize(T)).add(Ctx.getTypeAlign(T));
}

uint64_t TypeHasher::hashShallow(QualType T) {
  T = Ctx.getCanonicalType(T);
  HashNode N('~');
  N.add(T.getCVRQualifiers());
  if (const auto *BT = T->getAs<BuiltinType>())
    N.add(BT->getName(Policy));
  else if (const TagDecl *TD = T->getAsTagDecl())
    N.add(tagCode(TD));
  else
    N.add(T->getTypeClassName());
  addSize(N, T);
  return N.finish();
}

uint64_t TypeHasher::hashPointee(QualType T, unsigned Budget) {
  return Budget == 0 ? hashShallow(T) : hashType(T, Budget - 1);
}

uint64_t TypeHasher::hashType(QualType T, unsigned Budget) {
  T = Ctx.getCanonicalType(T);
  Qualifiers Q = T.getQualifiers();
  const Type *Ty = T.getTypePtr();

  auto Start = [&](char Tag) {
    HashNode N(Tag);
    N.add(Q.getCVRQualifiers()).add(static_cast<uint64_t>(Q.getAddressSpace()));
    addSize(N, T);
    return N;
  };

  if (const auto *BT = dyn_cast<BuiltinType>(Ty))
    return Start('B').add(BT->getName(Policy)).finish();
  if (const auto *RT = dyn_cast<RecordType>(Ty))
    return Start('R').add(hashRecord(RT->getDecl(), Budget)).finish();
  if (const auto *ET = dyn_cast<EnumType>(Ty)) {
    HashNode N = Start('E');
    if (const EnumDecl *ED = ET->getDecl()->getDefinition())
      N.add(hashType(ED->getIntegerType(), Budget));
    return N.finish();
  }
  if (const auto *PT = dyn_cast<PointerType>(Ty))
    return Start('P').add(hashPointee(PT->getPointeeType(), Budget)).finish();
  if (const auto *RT = dyn_cast<ReferenceType>(Ty))
    return Start(RT->isLValueReferenceType() ? 'L' : 'W')
        .add(hashPointee(RT->getPointeeType(), Budget))
        .finish();
  if (const auto *BPT = dyn_cast<BlockPointerType>(Ty))
    return Start('K').add(hashPointee(BPT->getPointeeType(), Budget)).finish();
  if (const auto *MPT = dyn_cast<MemberPointerType>(Ty))
    return Start('M')
        .add(hashShallow(QualType(MPT->getClass(), 0)))
        .add(hashPointee(MPT->getPointeeType(), Budget))
        .finish();
  if (const auto *CAT = dyn_cast<ConstantArrayType>(Ty))
    return Start('A')
        .add(CAT->getZExtSize())
        .add(hashType(CAT->getElementType(), Budget))
        .finish();
  if (const auto *AT = dyn_cast<ArrayType>(Ty))
    return Start('a').add(hashType(AT->getElementType(), Budget)).finish();
  if (const auto *FPT = dyn_cast<FunctionProtoType>(Ty)) {
    HashNode N = Start('F');
    N.add(hashType(FPT->getReturnType(), Budget));
    N.add(FPT->getNumParams());
    for (QualType P : FPT->param_types())
      N.add(hashType(P, Budget));
    return N.add(FPT->isVariadic()).finish();
  }
  if (const auto *FT = dyn_cast<FunctionType>(Ty))
    return Start('f').add(hashType(FT->getReturnType(), Budget)).finish();
  if (const auto *AT = dyn_cast<AtomicType>(Ty))
    return Start('T').add(hashType(AT->getValueType(), Budget)).finish();
  if (const auto *CT = dyn_cast<ComplexType>(Ty))
    return Start('C').add(hashType(CT->getElementType(), Budget)).finish();
  if (const auto *VT = dyn_cast<VectorType>(Ty))
    return Start('V')
        .add(VT->getNumElements())
        .add(static_cast<uint64_t>(VT->getVectorKind()))
        .add(hashType(VT->getElementType(), Budget))
        .finish();
  if (const auto *BIT = dyn_cast<BitIntType>(Ty))
    return Start('I').add(BIT->isSigned()).add(BIT->getNumBits()).finish();
  // Anything else (Objective-C, matrices, pipes): its class and size.
  return Start('X').add(Ty->getTypeClassName()).finish();
}

uint64_t TypeHasher::hashRecord(const RecordDecl *RD, unsigned Budget) {
  const RecordDecl *Def = RD->getDefinition();
  if (!Def || Def->isInvalidDecl()) {
    // Only the name is known of a record this translation unit never
    // defines.
    HashNode N('r');
    N.add(tagCode(RD)).add(RD->getQualifiedNameAsString());
    return N.finish();
  }

  for (unsigned I = 0, E = Stack.size(); I != E; ++I)
    if (Stack[I] == Def) {
      MinBackRef = std::min(MinBackRef, I);
      return HashNode('^').add(E - I).finish();
    }

  auto Key = std::make_pair(Def, Budget);
  auto Cached = Cache.find(Key);
  if (Cached != Cache.end())
    return Cached->second;

  unsigned Index = Stack.size();
  unsigned OuterMinBackRef = MinBackRef;
  MinBackRef = UINT_MAX;
  Stack.push_back(Def);

  const ASTRecordLayout &Layout = Ctx.getASTRecordLayout(Def);
  HashNode N('{');
  N.add(tagCode(Def))
      .add(Layout.getSize().getQuantity())
      .add(Layout.getAlignment().getQuantity());
  // C++ adds to what C has only where C has no equivalent, so that a struct
  // in a header hashes the same in C and C++.
  if (const auto *CXXRD = dyn_cast<CXXRecordDecl>(Def)) {
    if (CXXRD->isDynamicClass())
      N.add('*');
    for (const CXXBaseSpecifier &Base : CXXRD->bases()) {
      const CXXRecordDecl *BaseRD = Base.getType()->getAsCXXRecordDecl();
      if (Base.isVirtual())
        N.add('v').add(Layout.getVBaseClassOffset(BaseRD).getQuantity());
      else
        N.add('b').add(Layout.getBaseClassOffset(BaseRD).getQuantity());
      N.add(hashRecord(BaseRD, Budget));
    }
  }
  for (const FieldDecl *FD : Def->fields()) {
    N.add('.').add(Layout.getFieldOffset(FD->getFieldIndex()));
    N.add(FD->isBitField() ? FD->getBitWidthValue(Ctx) : UINT64_MAX);
    N.add(hashType(FD->getType(), Budget));
  }

  Stack.pop_back();
  uint64_t Hash = N.finish();
  if (MinBackRef >= Index)
    Cache[Key] = Hash;
  MinBackRef =
      std::min(OuterMinBackRef, MinBackRef < Index ? MinBackRef : UINT_MAX);
  return Hash;
}

uint64_t perm::computeTypeHash(const ASTContext &Ctx, QualType T) {
  TypeHasher Hasher(Ctx);
  uint64_t Hash = HashNode('#')
                      .add("perm-type-v1")
                      .add(Hasher.hashType(T, TypeHashPointerDepth))
                      .finish();
  // 0 means "no type information" to the runtime.
  return Hash ? Hash : 1;
}
