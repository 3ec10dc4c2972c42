// With -fcommon a tentative definition would be a common symbol, which
// cannot live in a section: PERM variables never are.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -fcommon -O0 -S -emit-llvm %s -o - | FileCheck %s

// CHECK-DAG: @tentative = dso_local global i32 0, section "persistent", align 4
__attribute__((perm)) int tentative;
// CHECK-DAG: @other = common dso_local global i32 0, align 4
int other;
