// A typedef is not a variable.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -fsyntax-only -Xclang -verify %s
// RUN: %clangxx -fplugin=%perm_plugin -x c++ -fsyntax-only -Xclang -verify %s

typedef __attribute__((perm)) int counter_t; // expected-error {{'perm' cannot be applied to typedef 'counter_t': apply it to each variable of that type}}
typedef struct {
  int x;
} point_t __attribute__((perm)); // expected-error {{'perm' cannot be applied to typedef 'point_t'}}
