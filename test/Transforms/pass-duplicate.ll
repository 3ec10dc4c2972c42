; A global annotated more than once gets one entry; a complete annotation
; wins over a bare marker, without the marker's warning.
; REQUIRES: plugin
; RUN: opt -load-pass-plugin=%perm_plugin -passes=perm-registry -S %s 2>&1 | FileCheck %s --implicit-check-not=warning

; CHECK-COUNT-1: @perm.entry.x = private constant {{.*}} i64 7 }
; CHECK-COUNT-1: @perm.entry.y = private constant {{.*}} i64 7 }
; CHECK-NOT: {{^}}@perm.entry

@x = global i32 0, align 4
@y = global i32 0, align 4
@.perm.x = private unnamed_addr constant [31 x i8] c"perm:flags=0x1;type=0x7;name=x\00", section "llvm.metadata"
@.perm.y = private unnamed_addr constant [31 x i8] c"perm:flags=0x1;type=0x7;name=y\00", section "llvm.metadata"
@.marker = private unnamed_addr constant [5 x i8] c"perm\00", section "llvm.metadata"
@.file = private unnamed_addr constant [4 x i8] c"x.c\00", section "llvm.metadata"
@llvm.global.annotations = appending global [4 x { ptr, ptr, ptr, i32, ptr }] [
  { ptr, ptr, ptr, i32, ptr } { ptr @x, ptr @.marker, ptr @.file, i32 1, ptr null },
  { ptr, ptr, ptr, i32, ptr } { ptr @x, ptr @.perm.x, ptr @.file, i32 1, ptr null },
  { ptr, ptr, ptr, i32, ptr } { ptr @y, ptr @.perm.y, ptr @.file, i32 2, ptr null },
  { ptr, ptr, ptr, i32, ptr } { ptr @y, ptr @.perm.y, ptr @.file, i32 2, ptr null }
], section "llvm.metadata"
