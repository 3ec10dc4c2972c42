// Every spelling marks a variable persistent, in C and in C++.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -std=c23 -Wall -Wextra -fsyntax-only -Xclang -verify %s
// RUN: %clangxx -fplugin=%perm_plugin -x c++ -std=c++17 -Wall -Wextra -fsyntax-only -Xclang -verify %s
// RUN: %clang -fplugin=%perm_plugin -std=c23 -S -emit-llvm %s -o - | FileCheck %s
// RUN: %clangxx -fplugin=%perm_plugin -x c++ -std=c++17 -S -emit-llvm %s -o - | FileCheck %s
// expected-no-diagnostics

// CHECK-DAG: @gnu = {{.*}}section "persistent"
__attribute__((perm)) int gnu;
// CHECK-DAG: @std = {{.*}}section "persistent"
[[perm]] int std;
// CHECK-DAG: @scoped = {{.*}}section "persistent"
[[perm::persistent]] int scoped;
// CHECK-DAG: @after = {{.*}}section "persistent"
int after __attribute__((perm));
// CHECK-DAG: @std_after = {{.*}}section "persistent"
int std_after [[perm]];
// CHECK-DAG: @perm.name.gnu = {{.*}} c"gnu\00"
// CHECK-DAG: @perm.name.std = {{.*}} c"std\00"
// CHECK-DAG: @perm.name.scoped = {{.*}} c"scoped\00"
// CHECK-DAG: @perm.name.after = {{.*}} c"after\00"
// CHECK-DAG: @perm.name.std_after = {{.*}} c"std_after\00"
