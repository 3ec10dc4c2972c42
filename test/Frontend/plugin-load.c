// libperm.so loads libperm-clang.so from the directory of the file itself,
// whatever path names it (relative, or a symbolic link elsewhere); without
// it the compilation stops with an error instead of building a program whose
// PERM globals are not registered.
// REQUIRES: plugin
// RUN: rm -rf %t && mkdir -p %t/link %t/alone
// RUN: ln -s %perm_plugin %t/link/libperm.so
// RUN: cp %perm_plugin %t/alone/libperm.so
// RUN: cd %t && %clang -fplugin=link/libperm.so -S -emit-llvm %s -o - | FileCheck %s
// RUN: not %clang -fplugin=%t/alone/libperm.so -fsyntax-only %s 2>&1 | FileCheck %s --check-prefix=ALONE

// CHECK: @perm.entry.x =
// ALONE: error: libperm.so: cannot load libperm-clang.so: {{.*}}alone/libperm-clang.so: cannot open shared object file
// ALONE-NOT: warning

__attribute__((perm)) int x;
