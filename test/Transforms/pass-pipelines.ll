; The plugin puts the pass at the start of every default pipeline: -O0 to
; -O3 and the pre-link pipelines of full and thin LTO.
; REQUIRES: plugin
; RUN: opt -load-pass-plugin=%perm_plugin -passes='default<O0>' -S %s | FileCheck %s
; RUN: opt -load-pass-plugin=%perm_plugin -passes='default<O1>' -S %s | FileCheck %s
; RUN: opt -load-pass-plugin=%perm_plugin -passes='default<O3>' -S %s | FileCheck %s
; RUN: opt -load-pass-plugin=%perm_plugin -passes='default<Os>' -S %s | FileCheck %s
; RUN: opt -load-pass-plugin=%perm_plugin -passes='lto-pre-link<O2>' -S %s | FileCheck %s
; RUN: opt -load-pass-plugin=%perm_plugin -passes='thinlto-pre-link<O2>' -S %s | FileCheck %s
; Without the plugin nothing happens (the test can fail).
; RUN: opt -passes='default<O2>' -S %s | FileCheck %s --check-prefix=NONE

; CHECK: @x = internal global i32 0, section "persistent", align 4
; CHECK: @perm.entry.x = private constant {{.*}} ptr @x, i64 4, i64 4, i64 7 }, section "perm_registry"
; CHECK: define linkonce_odr hidden void @perm.module_ctor()
; NONE-NOT: perm_registry

@x = internal global i32 0, align 4
@.perm = private unnamed_addr constant [31 x i8] c"perm:flags=0x2;type=0x7;name=x\00", section "llvm.metadata"
@.file = private unnamed_addr constant [4 x i8] c"x.c\00", section "llvm.metadata"
@llvm.global.annotations = appending global [1 x { ptr, ptr, ptr, i32, ptr }] [{ ptr, ptr, ptr, i32, ptr } { ptr @x, ptr @.perm, ptr @.file, i32 1, ptr null }], section "llvm.metadata"

define i32 @get() {
  %v = load i32, ptr @x, align 4
  ret i32 %v
}
