// A register variable cannot be persistent.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -fsyntax-only -Xclang -verify %s

void f(void) {
  register __attribute__((perm)) int r = 0; // expected-error {{'perm' cannot be applied to register variable 'r': only variables with static storage duration persist}}
  (void)r;
}
