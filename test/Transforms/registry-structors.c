// One constructor and one destructor per module, each linkonce_odr, hidden
// and in its own comdat, listed in llvm.global_ctors/dtors with priority 101
// and themselves as the comdat key, passing the bounds of the module's
// section "perm_registry" (__start_/__stop_, extern_weak hidden) to the
// runtime's perm__registry_add/remove, which are extern_weak too and called
// only when present (a program not linked with libpermrt links and runs, and
// libperm-preload.so registers its globals); at every optimisation level.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -O0 -S -emit-llvm %s -o - | FileCheck %s
// RUN: %clang -fplugin=%perm_plugin -O1 -S -emit-llvm %s -o - | FileCheck %s
// RUN: %clang -fplugin=%perm_plugin -O2 -S -emit-llvm %s -o - | FileCheck %s
// RUN: %clang -fplugin=%perm_plugin -O3 -S -emit-llvm %s -o - | FileCheck %s
// RUN: %clang -fplugin=%perm_plugin -Os -S -emit-llvm %s -o - | FileCheck %s
// RUN: %clang -fplugin=%perm_plugin -Oz -S -emit-llvm %s -o - | FileCheck %s

__attribute__((perm)) int a;
__attribute__((perm)) int b;

// CHECK: $perm.module_ctor = comdat any
// CHECK: $perm.module_dtor = comdat any
// CHECK: @__start_perm_registry = extern_weak hidden global i8
// CHECK: @__stop_perm_registry = extern_weak hidden global i8
// CHECK: @llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 101, ptr @perm.module_ctor, ptr @perm.module_ctor }]
// CHECK: @llvm.global_dtors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 101, ptr @perm.module_dtor, ptr @perm.module_dtor }]

// CHECK: declare extern_weak void @perm__registry_add(ptr, ptr)
// CHECK: define linkonce_odr hidden void @perm.module_ctor() {{.*}}comdat {
// CHECK-NEXT: %[[ADD:[0-9]+]] = icmp {{eq|ne}} ptr @perm__registry_add, null
// CHECK-NEXT: br i1 %[[ADD]]
// CHECK: call void @perm__registry_add(ptr @__start_perm_registry, ptr @__stop_perm_registry)
// CHECK: ret void
// CHECK: declare extern_weak void @perm__registry_remove(ptr, ptr)
// CHECK: define linkonce_odr hidden void @perm.module_dtor() {{.*}}comdat {
// CHECK-NEXT: %[[REMOVE:[0-9]+]] = icmp {{eq|ne}} ptr @perm__registry_remove, null
// CHECK-NEXT: br i1 %[[REMOVE]]
// CHECK: call void @perm__registry_remove(ptr @__start_perm_registry, ptr @__stop_perm_registry)
// CHECK: ret void
