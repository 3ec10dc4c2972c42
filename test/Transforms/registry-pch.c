// A precompiled header's PERM variables are completed when the header is
// compiled, yet a name that is unique only within a translation unit gets
// the name of the file that includes the header, not of the header.
// REQUIRES: plugin
// RUN: rm -rf %t && split-file %s %t
// RUN: %clang -fplugin=%perm_plugin -x c-header %t/shared.h -o %t/shared.h.pch
// RUN: %clang -fplugin=%perm_plugin -include %t/shared.h -S -emit-llvm %t/one.c -o - 2>&1 | FileCheck %s --check-prefix=ONE
// RUN: %clang -fplugin=%perm_plugin -include %t/shared.h -S -emit-llvm %t/two.c -o - 2>&1 | FileCheck %s --check-prefix=TWO

// ONE-NOT: warning
// ONE-DAG: @perm.name.config = {{.*}} c"config\00"
// ONE-DAG: @perm.name.hits = {{.*}} c"one.c:hits\00"
// ONE-DAG: @perm.name.get.calls = {{.*}} c"one.c:get:calls\00"
// ONE-DAG: @perm.entry.get.calls = {{.*}} i64 4, i64 4, i64 {{-?[1-9][0-9]*}} }
// TWO-NOT: warning
// TWO-DAG: @perm.name.hits = {{.*}} c"two.c:hits\00"
// TWO-DAG: @perm.name.get.calls = {{.*}} c"two.c:get:calls\00"

//--- shared.h
struct cfg {
  int a;
  long b;
};
extern __attribute__((perm)) struct cfg config;
static __attribute__((perm)) int hits;
static inline int get(void) {
  static __attribute__((perm)) int calls;
  return ++calls + ++hits;
}

//--- one.c
struct cfg config;
int main(void) { return get() + config.a; }

//--- two.c
int other(void) { return get(); }
