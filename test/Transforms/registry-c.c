// One registry entry per PERM variable of a C file, in section
// "perm_registry", at -O0 and -O2: version, flags, name, address, size,
// alignment and type hash; the variables themselves in section "persistent".
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -O0 -S -emit-llvm %s -o - | FileCheck %s
// RUN: %clang -fplugin=%perm_plugin -O2 -S -emit-llvm %s -o - | FileCheck %s

struct point {
  int x, y;
};

// CHECK-DAG: @origin = dso_local global %struct.point { i32 1, i32 2 }, section "persistent", align 4
__attribute__((perm)) struct point origin = {1, 2};
// CHECK-DAG: @counter = dso_local global i64 0, section "persistent", align 8
__attribute__((perm)) long counter;
// CHECK-DAG: @ratio = internal global double 0.000000e+00, section "persistent", align 8
static __attribute__((perm)) double ratio;
// CHECK-DAG: @bump.calls = internal global i16 0, section "persistent", align 2
// CHECK-DAG: @not_perm = dso_local {{(local_unnamed_addr )?}}global i32 0, align 4{{$}}
int not_perm;

int bump(void) {
  static __attribute__((perm)) short calls;
  ratio += 1.0;
  return ++calls + (int)++counter + origin.x + not_perm;
}

// External: flags 0x1 (PERM_REG_EXTERNAL), the C name.
// CHECK-DAG: @perm.name.origin = private unnamed_addr constant [7 x i8] c"origin\00", align 1
// CHECK-DAG: @perm.entry.origin = private constant { i32, i32, ptr, ptr, i64, i64, i64 } { i32 1, i32 1, ptr @perm.name.origin, ptr @origin, i64 8, i64 4, i64 {{-?[1-9][0-9]*}} }, section "perm_registry", align 8
// CHECK-DAG: @perm.name.counter = {{.*}} c"counter\00"
// CHECK-DAG: @perm.entry.counter = {{.*}} { i32 1, i32 1, ptr @perm.name.counter, ptr @counter, i64 8, i64 8, i64 {{-?[1-9][0-9]*}} }, section "perm_registry", align 8
// File static: flags 0x2 (PERM_REG_FILE_STATIC), "file.c:name".
// CHECK-DAG: @perm.name.ratio = {{.*}} c"registry-c.c:ratio\00"
// CHECK-DAG: @perm.entry.ratio = {{.*}} { i32 1, i32 2, ptr @perm.name.ratio, ptr @ratio, i64 8, i64 8, i64 {{-?[1-9][0-9]*}} }, section "perm_registry", align 8
// Static local: flags 0x4 (PERM_REG_STATIC_LOCAL), "function:name".
// CHECK-DAG: @perm.name.bump.calls = {{.*}} c"bump:calls\00"
// CHECK-DAG: @perm.entry.bump.calls = {{.*}} { i32 1, i32 4, ptr @perm.name.bump.calls, ptr @bump.calls, i64 2, i64 2, i64 {{-?[1-9][0-9]*}} }, section "perm_registry", align 8

// Everything is kept: the variables and the entries are in llvm.used.
// CHECK-DAG: @llvm.used = appending global [8 x ptr]

// The annotations that carried the information are consumed.
// CHECK-NOT: llvm.global.annotations
// CHECK-NOT: c"perm:
