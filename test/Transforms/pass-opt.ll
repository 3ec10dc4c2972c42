; The pass on its own, as opt runs it: it turns PERM annotations into
; registry entries, keeps every other annotation, puts the variables in
; section "persistent" and keeps them alive.
; REQUIRES: plugin
; RUN: opt -load-pass-plugin=%perm_plugin -passes=perm-registry -S %s | FileCheck %s
; A name marked "in=file" gets the basename of source_filename in front.

source_filename = "src/file.c"

@counter = global i64 0, align 8
@table = internal global [4 x i32] zeroinitializer, align 16
@other = global i32 0, align 4
@.perm.counter = private unnamed_addr constant [45 x i8] c"perm:flags=0x1;type=0x123456789abcdef;name=n\00", section "llvm.metadata"
@.perm.table = private unnamed_addr constant [44 x i8] c"perm:flags=0x2;type=0x2a;in=file;name=table\00", section "llvm.metadata"
@.keep = private unnamed_addr constant [5 x i8] c"keep\00", section "llvm.metadata"
@.file = private unnamed_addr constant [7 x i8] c"file.c\00", section "llvm.metadata"
@llvm.global.annotations = appending global [3 x { ptr, ptr, ptr, i32, ptr }] [
  { ptr, ptr, ptr, i32, ptr } { ptr @counter, ptr @.perm.counter, ptr @.file, i32 1, ptr null },
  { ptr, ptr, ptr, i32, ptr } { ptr @other, ptr @.keep, ptr @.file, i32 3, ptr null },
  { ptr, ptr, ptr, i32, ptr } { ptr @table, ptr @.perm.table, ptr @.file, i32 2, ptr null }
], section "llvm.metadata"

; CHECK: @counter = global i64 0, section "persistent", align 8
; CHECK: @table = internal global [4 x i32] zeroinitializer, section "persistent", align 16
; CHECK: @other = global i32 0, align 4
; CHECK-NOT: c"perm:
; CHECK: @.keep = private unnamed_addr constant [5 x i8] c"keep\00", section "llvm.metadata"
; CHECK: @.file = private unnamed_addr constant [7 x i8] c"file.c\00", section "llvm.metadata"
; CHECK: @llvm.global.annotations = appending global [1 x { ptr, ptr, ptr, i32, ptr }] [{ ptr, ptr, ptr, i32, ptr } { ptr @other, ptr @.keep, ptr @.file, i32 3, ptr null }], section "llvm.metadata"
; CHECK: @perm.name.counter = private unnamed_addr constant [2 x i8] c"n\00", align 1
; CHECK: @perm.entry.counter = private constant { i32, i32, ptr, ptr, i64, i64, i64 } { i32 1, i32 1, ptr @perm.name.counter, ptr @counter, i64 8, i64 8, i64 81985529216486895 }, section "perm_registry", align 8
; CHECK: @perm.name.table = private unnamed_addr constant [13 x i8] c"file.c:table\00", align 1
; CHECK: @perm.entry.table = private constant { i32, i32, ptr, ptr, i64, i64, i64 } { i32 1, i32 2, ptr @perm.name.table, ptr @table, i64 16, i64 16, i64 42 }, section "perm_registry", align 8
; CHECK: @llvm.used = appending global [4 x ptr] [ptr @counter, ptr @perm.entry.counter, ptr @table, ptr @perm.entry.table], section "llvm.metadata"
; CHECK: @llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 101, ptr @perm.module_ctor, ptr @perm.module_ctor }]
; CHECK: @llvm.global_dtors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 101, ptr @perm.module_dtor, ptr @perm.module_dtor }]
; CHECK: define linkonce_odr hidden void @perm.module_ctor() #0 comdat
; CHECK: define linkonce_odr hidden void @perm.module_dtor() #0 comdat
