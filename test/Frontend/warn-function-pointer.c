// A persistent function pointer is only valid at the same load address: a
// warning in a position-independent program, none without PIE or PIC.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -fPIE -fsyntax-only -Xclang -verify=pie %s
// RUN: %clang -fplugin=%perm_plugin -fPIC -fsyntax-only -Xclang -verify=pie %s
// RUN: %clang -fplugin=%perm_plugin -fno-pic -fsyntax-only -Xclang -verify=nopie %s
// nopie-no-diagnostics

void on_signal(int);
__attribute__((perm)) void (*handler)(int) = on_signal; // pie-warning {{'perm' variable 'handler' holds function addresses, which change under ASLR in a position-independent program: restore needs the same binary at the same address (PERM re-executes with ASLR off, see README.PERM)}}
__attribute__((perm)) void (*table[4])(int); // pie-warning {{'perm' variable 'table' holds function addresses}}
extern __attribute__((perm)) void (*declared)(int); // a declaration: warned where defined
__attribute__((perm)) void *data_pointer; // data: fine
