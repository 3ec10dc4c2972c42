// The plugin makes __has_attribute(perm) true, so perm.h's PERM becomes the
// attribute; without the plugin PERM falls back to the section attribute.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin %cflags -E %s | FileCheck %s --check-prefix=PLUGIN
// RUN: %clang %cflags -E %s | FileCheck %s --check-prefix=NOPLUGIN
// RUN: %clang -fplugin=%perm_plugin %cflags -std=c23 -fsyntax-only -Xclang -verify %s
// RUN: %clangxx -fplugin=%perm_plugin %cflags -x c++ -std=c++17 -fsyntax-only -Xclang -verify %s
// expected-no-diagnostics

#include <perm.h>

// PLUGIN: {{^}}__attribute__((perm)) long counter;
// NOPLUGIN: {{^}}__attribute__((section("persistent"), used , retain)) long counter;
PERM long counter;

_Static_assert(__has_attribute(perm), "GNU spelling");
// Clang 19 looks plugin attributes up by name without their scope, so it
// does not see [[perm::persistent]] here (the attribute itself works):
// test for perm, as perm.h does.
#ifdef __cplusplus
static_assert(__has_cpp_attribute(perm), "C++11 spelling");
static_assert(!__has_cpp_attribute(perm::persistent), "clang 19 limitation");
#else
_Static_assert(__has_c_attribute(perm), "C23 spelling");
_Static_assert(!__has_c_attribute(perm::persistent), "clang 19 limitation");
#endif
