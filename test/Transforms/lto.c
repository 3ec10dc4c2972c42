// With -flto and -flto=thin the registry is emitted by the compile step, so
// the bitcode object carries it into the link (the linker never loads the
// plugin).
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -O2 -flto -c %s -o %t.full.o
// RUN: llvm-dis %t.full.o -o - | FileCheck %s
// RUN: llvm-nm %t.full.o | FileCheck %s --check-prefix=NM
// RUN: %clang -fplugin=%perm_plugin -O2 -flto=thin -c %s -o %t.thin.o
// RUN: llvm-dis %t.thin.o -o - | FileCheck %s
// RUN: llvm-nm %t.thin.o | FileCheck %s --check-prefix=NM
// RUN: %clang -fplugin=%perm_plugin -O0 -flto -c %s -o %t.o0.o
// RUN: llvm-dis %t.o0.o -o - | FileCheck %s

// CHECK-DAG: @state = {{.*}}section "persistent"
// CHECK-DAG: @perm.entry.state = private constant {{.*}} ptr @state, i64 16, i64 16, {{.*}} section "perm_registry", align 8
// CHECK-DAG: @llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 101, ptr @perm.module_ctor, ptr @perm.module_ctor }]
// CHECK-DAG: define linkonce_odr hidden void @perm.module_ctor()

// NM-DAG: {{^}}                 w perm__registry_add
// NM-DAG: {{^}}                 w perm__registry_remove
// NM-DAG: {{^}}                 w __start_perm_registry
// NM-DAG: {{^}}                 w __stop_perm_registry
// NM-DAG: W perm.module_ctor
// NM-DAG: W perm.module_dtor
// NM-DAG: D state

__attribute__((perm)) long state[2];
long *get(void) { return state; }
