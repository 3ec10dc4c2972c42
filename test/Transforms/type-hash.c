// The type hash follows layout, not names: renaming a typedef, a struct tag
// or a field keeps it; changing one field's type, the length of an array or
// what a pointer points to changes it.  C and C++ agree, and the values are
// pinned: the hash is part of the image format, so a change to the scheme
// must change its version tag ("perm-type-v1" in PermTypeHash.cpp) and these
// constants together.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -O0 -S -emit-llvm %s -o %t.c.ll
// RUN: %clangxx -fplugin=%perm_plugin -x c++ -O2 -S -emit-llvm %s -o %t.cpp.ll
// RUN: FileCheck %s --check-prefix=A < %t.c.ll
// RUN: FileCheck %s --check-prefix=NODE < %t.c.ll
// RUN: FileCheck %s --check-prefix=PTR < %t.c.ll
// RUN: FileCheck %s --check-prefix=ARR < %t.c.ll
// RUN: FileCheck %s --check-prefix=PINNED < %t.c.ll
// RUN: FileCheck %s --check-prefix=PINNED < %t.cpp.ll

#define PERM __attribute__((perm))
typedef int count_t;
typedef long total_t;

// Each group: the entries that must hash alike, then nothing later in the
// file may have their hash.
// A: @perm.entry.a = {{.*}}, i64 [[H:-?[0-9]+]] }
// A: @perm.entry.a_alias = {{.*}}, i64 [[H]] }
// A: @perm.entry.a_renamed = {{.*}}, i64 [[H]] }
// A-NOT: , i64 [[H]] }
struct A {
  int x;
  long y;
};
typedef struct A A_t;
struct Renamed {
  count_t first;
  total_t second;
};
PERM struct A a = {0};
PERM A_t a_alias = {0};
PERM struct Renamed a_renamed = {0};
struct B { // A with one field of another type
  int x;
  double y;
};
PERM struct B b = {0};

// NODE: @perm.entry.node = {{.*}}, i64 [[H:-?[0-9]+]] }
// NODE: @perm.entry.node_renamed = {{.*}}, i64 [[H]] }
// NODE-NOT: , i64 [[H]] }
struct node {
  int value;
  struct node *next;
};
struct link {
  int payload;
  struct link *following;
};
struct node_longer {
  long value;
  struct node_longer *next;
};
PERM struct node node = {0};
PERM struct link node_renamed = {0};
PERM struct node_longer node_longer = {0};

// PTR: @perm.entry.pa = {{.*}}, i64 [[H:-?[0-9]+]] }
// PTR-NOT: , i64 [[H]] }
PERM struct A *pa = 0;
PERM struct B *pb = 0;

// ARR: @perm.entry.arr3 = {{.*}}, i64 [[H:-?[0-9]+]] }
// ARR-NOT: , i64 [[H]] }
PERM int arr3[3] = {0};
PERM int arr4[4] = {0};
PERM unsigned int unsigned_int = 0;
PERM volatile int volatile_int = 0;

// PINNED-DAG: @perm.entry.a = {{.*}}, i64 3285924415174369181 }
// PINNED-DAG: @perm.entry.node = {{.*}}, i64 -858244220118991394 }
// PINNED-DAG: @perm.entry.arr3 = {{.*}}, i64 7000037199089023022 }
// PINNED-DAG: @perm.entry.counter = {{.*}}, i64 -5931723513876751585 }
PERM int counter = 0;
