// A variable that several objects may define (inline variable, template
// static member, static local of an inline function) gets a linkonce_odr
// hidden entry in the variable's own comdat, so the linker keeps one entry
// per variable.  The name string stays outside the comdat (see
// link-dedup.cpp: code may end up sharing it).  Ordinary definitions get private
// entries outside any comdat.
// REQUIRES: plugin
// RUN: %clangxx -fplugin=%perm_plugin -std=c++17 -O0 -S -emit-llvm %s -o - | FileCheck %s
// RUN: %clangxx -fplugin=%perm_plugin -std=c++17 -O2 -S -emit-llvm %s -o - | FileCheck %s

// CHECK-DAG: @inline_var = linkonce_odr {{.*}}section "persistent", comdat, align 4
// CHECK-DAG: @perm.name.inline_var = private unnamed_addr constant [11 x i8] c"inline_var\00", align 1
// CHECK-DAG: @perm.entry.inline_var = linkonce_odr hidden constant {{.*}} ptr @inline_var, {{.*}} section "perm_registry", comdat($inline_var), align 8
inline __attribute__((perm)) int inline_var = 5;

// CHECK-DAG: @perm.entry._ZN3BoxIlE5valueE = linkonce_odr hidden constant {{.*}} section "perm_registry", comdat($_ZN3BoxIlE5valueE), align 8
template <class T> struct Box {
  __attribute__((perm)) static T value;
};
template <class T> T Box<T>::value;

// CHECK-DAG: @perm.entry._ZZ7countervE1n = linkonce_odr hidden constant {{.*}} section "perm_registry", comdat($_ZZ7countervE1n), align 8
inline int counter() {
  static __attribute__((perm)) int n;
  return ++n;
}

// CHECK-DAG: @perm.entry.strong = private constant {{.*}} section "perm_registry", align 8
__attribute__((perm)) int strong;

int use() { return inline_var + int(Box<long>::value) + counter() + strong; }
