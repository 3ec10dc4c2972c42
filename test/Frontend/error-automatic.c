// An automatic local variable must be made static; the fix-it says so.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -std=c23 -fsyntax-only -Xclang -verify %s
// RUN: not %clang -fplugin=%perm_plugin -std=c23 -fsyntax-only -fdiagnostics-parseable-fixits %s 2>&1 | FileCheck %s

#define PERM __attribute__((perm))

void f(void) {
  // CHECK: fix-it:"{{.*}}error-automatic.c":{[[@LINE+1]]:3-[[@LINE+1]]:3}:"static "
  PERM int count; // expected-error {{'perm' local variable 'count' must be static: an automatic variable does not outlive its call}}
  // CHECK: fix-it:"{{.*}}error-automatic.c":{[[@LINE+1]]:3-[[@LINE+1]]:3}:"static "
  long PERM total; // expected-error {{'perm' local variable 'total' must be static}}
  // CHECK: fix-it:"{{.*}}error-automatic.c":{[[@LINE+1]]:12-[[@LINE+1]]:12}:"static "
  [[perm]] int std; // expected-error {{'perm' local variable 'std' must be static}}
  (void)count;
  (void)total;
  (void)std;
}
