// One entry per variable, however often it is declared PERM: repeated
// attributes, extern declarations, tentative definitions and a definition.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -Wall -S -emit-llvm %s -o - 2>&1 | grep -e '^@perm.entry' -e warning | sort | FileCheck %s --implicit-check-not=warning

// CHECK: @perm.entry.declared_first =
// CHECK-NEXT: @perm.entry.f.local =
// CHECK-NEXT: @perm.entry.plain_first =
// CHECK-NEXT: @perm.entry.tentative =
// CHECK-NEXT: @perm.entry.tentative_then_defined =
// CHECK-NEXT: @perm.entry.twice = {{.*}}{{$}}
// CHECK-NOT: {{.}}

// Before the pass, each of the six definitions carries one annotation.
// RUN: %clang -fplugin=%perm_plugin -S -emit-llvm -Xclang -disable-llvm-passes %s -o - | FileCheck %s --check-prefix=ANNOT
// ANNOT: @llvm.global.annotations = appending global [6 x

#define PERM __attribute__((perm))

extern PERM int declared_first;
PERM int declared_first = 1;
PERM int tentative;
PERM int tentative;
int tentative;
PERM int tentative_then_defined;
PERM int tentative_then_defined = 3;
__attribute__((perm, perm)) int twice;
extern int plain_first;
PERM int plain_first;
int f(void) {
  static __attribute__((perm)) __attribute__((perm)) int local;
  return ++local;
}
