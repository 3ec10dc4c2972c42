// A weak variable has no comdat of its own: its entry gets one, named after
// the entry, so that the linker keeps one entry for the one variable.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -O0 -S -emit-llvm %s -o - | FileCheck %s

// CHECK: $perm.entry.fallback = comdat any
// CHECK: @fallback = weak dso_local global i32 7, section "persistent", align 4
// CHECK: @perm.name.fallback = private unnamed_addr constant [9 x i8] c"fallback\00", align 1
// CHECK: @perm.entry.fallback = linkonce_odr hidden constant {{.*}} ptr @fallback, {{.*}} section "perm_registry", comdat, align 8
__attribute__((weak, perm)) int fallback = 7;
