// The plugin makes __has_attribute(perm) true, so perm.h's PERM becomes the
// attribute; without the plugin PERM falls back to the section attribute.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin %cflags -E %s | FileCheck %s --check-prefix=PLUGIN
// RUN: %clang %cflags -E %s | FileCheck %s --check-prefix=NOPLUGIN
// RUN: %clang -fplugin=%perm_plugin -std=c23 -fsyntax-only -Xclang -verify %s
// RUN: %clangxx -fplugin=%perm_plugin -x c++ -std=c++17 -fsyntax-only -Xclang -verify %s
// expected-no-diagnostics

#include <perm.h>

// PLUGIN: PERM_IS __attribute__((perm)) long counter;
// NOPLUGIN: PERM_IS __attribute__((section("persistent"), used , retain)) long counter;
PERM_IS PERM long counter;

_Static_assert(__has_attribute(perm), "GNU spelling");
#ifdef __cplusplus
static_assert(__has_cpp_attribute(perm), "C++11 spelling");
static_assert(__has_cpp_attribute(perm::persistent), "scoped C++11 spelling");
#elif __STDC_VERSION__ >= 202311L
_Static_assert(__has_c_attribute(perm), "C23 spelling");
_Static_assert(__has_c_attribute(perm::persistent), "scoped C23 spelling");
#endif
