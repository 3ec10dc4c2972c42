; A variable that still carries the frontend's bare marker reached the IR
; without its type hash (a plugin bug): the pass warns and registers it
; anyway, under its demangled IR name, with type hash 0 ("unknown").
; REQUIRES: plugin
; RUN: opt -load-pass-plugin=%perm_plugin -passes=perm-registry -S %s -o %t.ll 2>&1 | FileCheck %s --check-prefix=WARN
; RUN: FileCheck %s < %t.ll
; WARN: warning: perm-registry: @_ZN2ns5countE has no type information; it is registered without a type check (please report this as a PERM bug)

; CHECK: @perm.name._ZN2ns5countE = private unnamed_addr constant [10 x i8] c"ns::count\00"
; CHECK: @perm.entry._ZN2ns5countE = private constant {{.*}} { i32 1, i32 1, ptr @perm.name._ZN2ns5countE, ptr @_ZN2ns5countE, i64 4, i64 4, i64 0 }

@_ZN2ns5countE = global i32 0, align 4
@.perm = private unnamed_addr constant [5 x i8] c"perm\00", section "llvm.metadata"
@.file = private unnamed_addr constant [6 x i8] c"x.cpp\00", section "llvm.metadata"
@llvm.global.annotations = appending global [1 x { ptr, ptr, ptr, i32, ptr }] [{ ptr, ptr, ptr, i32, ptr } { ptr @_ZN2ns5countE, ptr @.perm, ptr @.file, i32 1, ptr null }], section "llvm.metadata"
