// A reference cannot be re-bound on restore.
// REQUIRES: plugin
// RUN: %clangxx -fplugin=%perm_plugin -std=c++17 -fsyntax-only -Xclang -verify %s

int target;
__attribute__((perm)) int &ref = target; // expected-error {{'perm' cannot be applied to reference 'ref': a reference cannot be re-bound on restore; use a pointer}}
__attribute__((perm)) auto &&fwd = target; // expected-error {{'perm' cannot be applied to reference 'fwd'}}
__attribute__((perm)) int *pointer = &target; // fine
