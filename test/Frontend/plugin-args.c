// The plugin has no options.
// REQUIRES: plugin
// RUN: not %clang -fplugin=%perm_plugin -fplugin-arg-perm-verbose -fsyntax-only %s 2>&1 | FileCheck %s
// CHECK: error: the perm plugin takes no arguments, got 'verbose'

int x;
