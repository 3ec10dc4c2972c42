; A PERM variable that something else put in another section is an error
; (the frontend reports it first; this is the pass's own guard).
; REQUIRES: plugin
; RUN: not opt -load-pass-plugin=%perm_plugin -passes=perm-registry -S %s -o /dev/null 2>&1 | FileCheck %s
; CHECK: error: perm-registry: @x is in section 'other', not 'persistent'

@x = global i32 0, section "other", align 4
@.perm = private unnamed_addr constant [31 x i8] c"perm:flags=0x1;type=0x7;name=x\00", section "llvm.metadata"
@.file = private unnamed_addr constant [4 x i8] c"x.c\00", section "llvm.metadata"
@llvm.global.annotations = appending global [1 x { ptr, ptr, ptr, i32, ptr }] [{ ptr, ptr, ptr, i32, ptr } { ptr @x, ptr @.perm, ptr @.file, i32 1, ptr null }], section "llvm.metadata"
