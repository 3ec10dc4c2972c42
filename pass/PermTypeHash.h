//===- PermTypeHash.h - Layout hash of a PERM type --------------*- C++ -*-===//
//
// Part of PERM.
//
//===----------------------------------------------------------------------===//
//
// The registry records, for every PERM variable, a 64-bit hash of its type's
// layout so that a restore into a rebuilt program can refuse a variable whose
// type changed.  The hash is computed from the canonical type in the AST:
// builtin kinds, sizes, alignments, qualifiers, record fields (offsets, bit
// widths, types) and bases, array bounds, enum underlying types, and what
// pointers point to.  Names of types, typedefs and fields do not enter it.
//
//===----------------------------------------------------------------------===//

#ifndef PERM_PASS_PERMTYPEHASH_H
#define PERM_PASS_PERMTYPEHASH_H

#include <cstdint>

namespace clang {
class ASTContext;
class QualType;
} // namespace clang

namespace perm {

/// How many pointers the hash follows from the variable's type.  Pointees
/// further away contribute their kind (and, for records, their size) only.
constexpr unsigned TypeHashPointerDepth = 8;

/// The layout hash of \p T, never 0.  \p T must be complete.  The value
/// depends only on the type and the target, not on the order of
/// declarations, the process, or the host: it is the same for every
/// compilation with the same clang version and target.
uint64_t computeTypeHash(const clang::ASTContext &Ctx, clang::QualType T);

} // namespace perm

#endif // PERM_PASS_PERMTYPEHASH_H
