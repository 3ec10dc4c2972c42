// constexpr variables, and variables whose deduced type is const, are
// rejected; in C23 too.
// REQUIRES: plugin
// RUN: split-file %s %t
// RUN: %clangxx -fplugin=%perm_plugin -std=c++17 -fsyntax-only -Xclang -verify %t/a.cpp
// RUN: %clang -fplugin=%perm_plugin -std=c23 -fsyntax-only -Xclang -verify %t/b.c

//--- a.cpp
constexpr __attribute__((perm)) int answer = 42; // expected-error {{'perm' variable 'answer' cannot be constexpr: a constant is never written, so there is nothing to save}}
const int source = 1;
__attribute__((perm)) decltype(auto) deduced = source; // expected-error {{'perm' variable 'deduced' cannot be const}}
__attribute__((perm)) auto copied = source; // 'int': fine

//--- b.c
constexpr __attribute__((perm)) int answer = 42; // expected-error {{'perm' variable 'answer' cannot be constexpr}}
