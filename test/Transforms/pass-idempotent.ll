; The pass consumes what it handles: a second run (say, clang -O0
; -emit-llvm, then clang -O2 on the result) adds no second entry, no
; second constructor.
; REQUIRES: plugin
; RUN: opt -load-pass-plugin=%perm_plugin -passes=perm-registry,perm-registry -S %s | FileCheck %s
; RUN: opt -load-pass-plugin=%perm_plugin -passes=perm-registry -S %s | opt -load-pass-plugin=%perm_plugin -passes=perm-registry -S | FileCheck %s

; CHECK-COUNT-1: @perm.entry.x = private constant
; CHECK-NOT: @perm.entry.x{{.*}} = private constant
; CHECK: @llvm.global_ctors = appending global [1 x
; CHECK: @llvm.global_dtors = appending global [1 x
; CHECK-COUNT-1: define linkonce_odr hidden void @perm.module_ctor()
; CHECK-NOT: define {{.*}}@perm.module_ctor

@x = global i32 0, align 4
@.perm = private unnamed_addr constant [31 x i8] c"perm:flags=0x1;type=0x7;name=x\00", section "llvm.metadata"
@.file = private unnamed_addr constant [4 x i8] c"x.c\00", section "llvm.metadata"
@llvm.global.annotations = appending global [1 x { ptr, ptr, ptr, i32, ptr }] [{ ptr, ptr, ptr, i32, ptr } { ptr @x, ptr @.perm, ptr @.file, i32 1, ptr null }], section "llvm.metadata"
