// Linked, a program registers its whole registry once, from one
// constructor, whatever the optimisation level, LTO mode and linker, with
// --gc-sections: the C++ inline variable defined in both objects has one
// entry, and every entry has the address of its variable.  main uses the
// string "shared" too: at -O2 the optimiser merges it with the entry's name,
// which therefore must not be in a comdat the linker may discard.
// REQUIRES: plugin, lld
// RUN: rm -rf %t && split-file %s %t
// RUN: %clang %cflags -c %S/Inputs/registry-stub.c -o %t/stub.o
// DEFINE: %{flags} =
// DEFINE: %{ld} =
// DEFINE: %{run} = %clangxx -fplugin=%perm_plugin %{flags} -ffunction-sections -fdata-sections -c %t/a.cpp -o %t/a.o && %clangxx -fplugin=%perm_plugin %{flags} -ffunction-sections -fdata-sections -c %t/b.cpp -o %t/b.o && %clangxx %{flags} -fuse-ld=%{ld} -Wl,--gc-sections %t/a.o %t/b.o %t/stub.o -o %t/prog && %t/prog | FileCheck %t/a.cpp
// REDEFINE: %{flags} = -O0
// REDEFINE: %{ld} = bfd
// RUN: %{run}
// REDEFINE: %{ld} = lld
// RUN: %{run}
// REDEFINE: %{flags} = -O2
// REDEFINE: %{ld} = bfd
// RUN: %{run}
// REDEFINE: %{ld} = lld
// RUN: %{run}
// REDEFINE: %{flags} = -O2 -flto
// REDEFINE: %{ld} = bfd
// RUN: %{run}
// REDEFINE: %{ld} = lld
// RUN: %{run}
// REDEFINE: %{flags} = -O2 -flto=thin
// REDEFINE: %{ld} = bfd
// RUN: %{run}
// REDEFINE: %{ld} = lld
// RUN: %{run}

//--- a.cpp
// CHECK: add 3
// CHECK-DAG: entry v1 flags=0x9 name=shared size=4 align=4 hash=set
// CHECK-DAG: entry v1 flags=0x9 name=only_a size=8 align=8 hash=set
// CHECK-DAG: entry v1 flags=0xa name=b.cpp:only_b size=16 align=16 hash=set
// CHECK-NOT: add
// CHECK: addresses ok
// CHECK-NEXT: remove 3
// CHECK-NOT: remove
inline __attribute__((perm)) int shared = 1;
__attribute__((perm)) long only_a;
int from_a() { return shared + int(only_a); }

//--- b.cpp
#include <cstdio>
extern "C" void *stub_lookup(const char *name);
inline __attribute__((perm)) int shared = 1;
static __attribute__((perm)) char only_b[16];
extern long only_a;
int from_a();
int main() {
  bool ok = stub_lookup("shared") == &shared &&
            stub_lookup("only_a") == &only_a &&
            stub_lookup("b.cpp:only_b") == only_b;
  std::printf("addresses %s\n", ok ? "ok" : "WRONG");
  return from_a() + only_b[0] - 1;
}
