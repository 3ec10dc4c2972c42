// A translation unit without PERM variables gets no registry and no
// constructor, even where the plugin is loaded.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -O0 -S -emit-llvm %s -o - | FileCheck %s
// RUN: %clang -fplugin=%perm_plugin -O2 -S -emit-llvm %s -o - | FileCheck %s
// CHECK-NOT: perm_registry
// CHECK-NOT: perm.module_ctor
// CHECK-NOT: perm__registry_add

__attribute__((section("persistent"), used)) int raw; // not the attribute
int plain;
int get(void) { return plain; }
