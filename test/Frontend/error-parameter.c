// Parameters cannot be persistent.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -fsyntax-only -Xclang -verify %s

void f(__attribute__((perm)) int count); // expected-error {{'perm' cannot be applied to parameter 'count': only variables with static storage duration persist}}
void g(int *p [[perm]]) { (void)p; } // expected-error {{'perm' cannot be applied to parameter 'p'}}
