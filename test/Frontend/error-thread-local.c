// A thread-local variable has one copy per thread: it cannot be persistent.
// REQUIRES: plugin
// RUN: split-file %s %t
// RUN: %clang -fplugin=%perm_plugin -fsyntax-only -Xclang -verify %t/tls.c
// RUN: %clangxx -fplugin=%perm_plugin -fsyntax-only -Xclang -verify %t/tls.cpp

//--- tls.c
_Thread_local __attribute__((perm)) int a; // expected-error {{'perm' cannot be applied to thread-local variable 'a': each thread has its own copy}}
__thread __attribute__((perm)) int b; // expected-error {{'perm' cannot be applied to thread-local variable 'b'}}
void f(void) {
  static _Thread_local __attribute__((perm)) int c; // expected-error {{'perm' cannot be applied to thread-local variable 'c'}}
}

//--- tls.cpp
thread_local __attribute__((perm)) int a; // expected-error {{'perm' cannot be applied to thread-local variable 'a'}}
void f() {
  thread_local __attribute__((perm)) int b; // expected-error {{'perm' cannot be applied to thread-local variable 'b'}}
}
