// PERM variables live in section "persistent": another explicit section is
// an error whichever comes first, on one declaration or on two.
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin -fsyntax-only -Xclang -verify %s

__attribute__((section("other"), perm)) int before; // expected-error {{'perm' variable 'before' cannot be placed in section 'other': PERM variables live in section 'persistent'}} expected-note {{section 'other' specified here}}
__attribute__((perm, section("other"))) int after; // expected-error {{'perm' variable 'after' cannot be placed in section 'other'}} expected-note {{section 'other' specified here}}

__attribute__((section("mine"))) extern int earlier; // expected-note {{section 'mine' specified here}}
__attribute__((perm)) int earlier; // expected-error {{'perm' variable 'earlier' cannot be placed in section 'mine'}}

__attribute__((perm)) extern int later;
__attribute__((section("mine"))) int later; // expected-error {{'perm' variable 'later' cannot be placed in section 'mine'}} expected-note {{section 'mine' specified here}}

__attribute__((section("persistent"), perm)) int same; // the same section: fine
