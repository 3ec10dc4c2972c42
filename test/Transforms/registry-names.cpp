// Registry names and flags in C++: qualified names with template arguments
// for external variables, "file.cpp:" before internal ones, "function:name"
// for static locals (with the parameter types, so overloads differ), the C
// name for extern "C"; PERM_REG_CXX (0x8) on all of them.
// REQUIRES: plugin
// RUN: %clangxx -fplugin=%perm_plugin -std=c++17 -O0 -S -emit-llvm %s -o - | FileCheck %s
// RUN: %clangxx -fplugin=%perm_plugin -std=c++17 -O2 -S -emit-llvm %s -o - | FileCheck %s

#define PERM __attribute__((perm))

// CHECK-DAG: @perm.name._ZN2ns3varE = {{.*}} c"ns::var\00"
// CHECK-DAG: @perm.entry._ZN2ns3varE = {{.*}} { i32 1, i32 9, ptr @perm.name._ZN2ns3varE, ptr @_ZN2ns3varE,
namespace ns {
PERM int var;
}
// CHECK-DAG: @perm.name._ZN12_GLOBAL__N_14anonE = {{.*}} c"registry-names.cpp:(anonymous namespace)::anon\00"
// CHECK-DAG: @perm.entry._ZN12_GLOBAL__N_14anonE = {{.*}} { i32 1, i32 10,
namespace {
PERM int anon;
}
// CHECK-DAG: @perm.name._ZL6hidden = {{.*}} c"registry-names.cpp:hidden\00"
// CHECK-DAG: @perm.entry._ZL6hidden = {{.*}} { i32 1, i32 10,
static PERM int hidden;
// CHECK-DAG: @perm.name.c_name = {{.*}} c"c_name\00"
// CHECK-DAG: @perm.entry.c_name = {{.*}} { i32 1, i32 9,
extern "C" PERM int c_name;
int c_name;
// CHECK-DAG: @perm.name._ZN3FooIiE1xE = {{.*}} c"Foo<int>::x\00"
// CHECK-DAG: @perm.entry._ZN3FooIiE1xE = {{.*}} { i32 1, i32 9,
template <class T> struct Foo {
  PERM static T x;
};
template <class T> T Foo<T>::x;
// CHECK-DAG: @perm.name._Z4zeroIsE = {{.*}} c"zero<short>\00"
template <class T> PERM T zero = T();
// CHECK-DAG: @perm.name._ZN3Bar1dE = {{.*}} c"Bar::d\00"
struct Bar {
  PERM static double d;
  static int m() {
    // CHECK-DAG: @perm.name._ZZN3Bar1mEvE2ml = {{.*}} c"Bar::m():ml\00"
    // CHECK-DAG: @perm.entry._ZZN3Bar1mEvE2ml = {{.*}} { i32 1, i32 12,
    static PERM long ml;
    return int(++ml);
  }
};
double Bar::d;
int f(int) {
  // CHECK-DAG: @perm.name._ZZ1fiE5calls = {{.*}} c"f(int):calls\00"
  static PERM int calls;
  return ++calls;
}
int f(double) {
  // CHECK-DAG: @perm.name._ZZ1fdE5calls = {{.*}} c"f(double):calls\00"
  static PERM int calls;
  return ++calls;
}
static int internal_function() {
  // CHECK-DAG: @perm.name._ZZL17internal_functionvE1n = {{.*}} c"registry-names.cpp:internal_function():n\00"
  static PERM int n;
  return ++n;
}
template <class T> T tf() {
  // CHECK-DAG: @perm.name._ZZ2tfIcET_vE1t = {{.*}} c"tf<char>():t\00"
  static PERM T t;
  return ++t;
}

int use() {
  return ns::var + anon + hidden + Foo<int>::x + zero<short> + Bar::m() +
         f(1) + f(1.0) + internal_function() + tf<char>();
}
