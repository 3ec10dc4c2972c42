// A persistent pointer to a string literal points into the executable: a
// warning in a position-independent program, none without PIE or PIC.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -fPIE -fsyntax-only -Xclang -verify=pie %s
// RUN: %clang -fplugin=%perm_plugin -fno-pic -fsyntax-only -Xclang -verify=nopie %s
// nopie-no-diagnostics

__attribute__((perm)) const char *greeting = "hello"; // pie-warning {{'perm' variable 'greeting' points to a string literal, whose address changes under ASLR in a position-independent program: restore needs the same binary at the same address (PERM re-executes with ASLR off, see README.PERM)}}
__attribute__((perm)) char *names[] = {"a", 0}; // pie-warning {{'perm' variable 'names' points to a string literal}}
__attribute__((perm)) char copy[] = "an array holds its own copy"; // fine
__attribute__((perm)) const char *empty; // fine
void f(void) {
  static __attribute__((perm)) const char *last = "none"; // pie-warning {{'perm' variable 'last' points to a string literal}}
}
