// Functions cannot be persistent.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -fsyntax-only -Xclang -verify %s
// RUN: %clangxx -fplugin=%perm_plugin -x c++ -fsyntax-only -Xclang -verify %s

__attribute__((perm)) int f(void); // expected-error {{'perm' cannot be applied to function 'f': only variables with static storage duration persist}}
int g(void) __attribute__((perm)); // expected-error {{'perm' cannot be applied to function 'g'}}
[[perm]] void h(void) {} // expected-error {{'perm' cannot be applied to function 'h'}}
