// A const object is never written: there is nothing to save.  A pointer to
// const data is fine.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -fsyntax-only -Xclang -verify %s
// RUN: %clangxx -fplugin=%perm_plugin -x c++ -fsyntax-only -Xclang -verify %s

#define PERM __attribute__((perm))

PERM const int limit = 10; // expected-error {{'perm' variable 'limit' cannot be const: a constant is never written, so there is nothing to save}}
PERM const int table[2] = {1, 2}; // expected-error {{'perm' variable 'table' cannot be const}}
PERM int *const fixed = 0; // expected-error {{'perm' variable 'fixed' cannot be const}}
typedef const struct { int x; } frozen_t;
PERM frozen_t frozen = {1}; // expected-error {{'perm' variable 'frozen' cannot be const}}
PERM const int *pointer_to_const; // a pointer that changes: fine
