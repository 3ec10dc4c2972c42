// The executable and each shared library register their own registry, each
// once: __start_/__stop_perm_registry are hidden, so each module sees its own
// section.  dlclose runs the library's destructor.
// REQUIRES: plugin, lld
// RUN: rm -rf %t && split-file %s %t
// RUN: %clang %cflags -fPIC -shared %S/Inputs/registry-stub.c -o %t/libstub.so
// RUN: %clang -fplugin=%perm_plugin -O2 -fPIC -shared -Wl,--gc-sections %t/lib.c -L%t -lstub -o %t/liblib.so
// RUN: %clang -fplugin=%perm_plugin -O2 -fPIC -shared -fuse-ld=lld -Wl,--gc-sections %t/plug.c -L%t -lstub -o %t/libplug.so
// RUN: %clang -fplugin=%perm_plugin -O2 -Wl,--gc-sections %t/main.c -L%t -llib -lstub -ldl -Wl,-rpath,%t -o %t/main
// RUN: %t/main %t/libplug.so | FileCheck %s

// CHECK: add 1
// CHECK-NEXT: entry v1 flags=0x1 name=lib_counter size=4 align=4 hash=set
// CHECK-NEXT: add 1
// CHECK-NEXT: entry v1 flags=0x1 name=main_counter size=4 align=4 hash=set
// CHECK-NEXT: main
// CHECK-NEXT: add 1
// CHECK-NEXT: entry v1 flags=0x2 name=plug.c:plugin_state size=8 align=8 hash=set
// CHECK-NEXT: remove 1
// CHECK-NEXT: closed
// CHECK-NEXT: remove 1
// CHECK-NEXT: remove 1
// CHECK-NOT: {{.}}

//--- lib.c
__attribute__((perm)) int lib_counter;
int lib_get(void) { return lib_counter; }

//--- plug.c
static __attribute__((perm)) long plugin_state;
long plug_get(void) { return plugin_state; }

//--- main.c
#include <dlfcn.h>
#include <stdio.h>
__attribute__((perm)) int main_counter;
int lib_get(void);
int main(int argc, char **argv) {
  void *plugin;
  (void)argc;
  printf("main\n");
  fflush(stdout);
  plugin = dlopen(argv[1], RTLD_NOW);
  if (!plugin || dlclose(plugin) != 0)
    return 1;
  printf("closed\n");
  fflush(stdout);
  return lib_get() + main_counter;
}
