// Fields cannot be persistent on their own: the variable holding the struct
// can.  Static data members are variables and can.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -fsyntax-only -Xclang -verify %s
// RUN: %clangxx -fplugin=%perm_plugin -x c++ -fsyntax-only -Xclang -verify %s

struct point {
  __attribute__((perm)) int x; // expected-error {{'perm' cannot be applied to field 'x': apply it to the variable that holds the structure}}
  int y [[perm]]; // expected-error {{'perm' cannot be applied to field 'y'}}
#ifdef __cplusplus
  __attribute__((perm)) static int count; // a static data member: fine
#endif
};
union u {
  __attribute__((perm)) long l; // expected-error {{'perm' cannot be applied to field 'l'}}
};
