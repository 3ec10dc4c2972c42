// The attribute takes no arguments.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -std=c23 -fsyntax-only -Xclang -verify %s
// RUN: %clangxx -fplugin=%perm_plugin -x c++ -std=c++17 -fsyntax-only -Xclang -verify %s

__attribute__((perm(1))) int a; // expected-error {{'perm' attribute takes no arguments}}
__attribute__((perm("name"))) int b; // expected-error {{'perm' attribute takes no arguments}}
[[perm::persistent(2)]] int c; // expected-error {{'perm::persistent' attribute takes no arguments}}
#define SCOPED [[perm::persistent("in a macro")]]
SCOPED int d; // expected-error {{'perm::persistent' attribute takes no arguments}}
[[perm::persistent]] int (e); // a parenthesised declarator is not an argument list
