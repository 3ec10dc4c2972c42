// A type that becomes const only when a template is instantiated is caught
// then, with the instantiation named.
// REQUIRES: plugin
// RUN: %clangxx -fplugin=%perm_plugin -std=c++17 -fsyntax-only -Xclang -verify %s

template <class T> struct Holder {
  __attribute__((perm)) static T value;
};
template <class T> T Holder<T>::value = T(); // expected-error {{'perm' variable 'value' cannot be const}}

template <class T> int count() {
  static __attribute__((perm)) T calls = T(); // expected-error {{'perm' variable 'calls' cannot be const}}
  return int(calls);
}

int use() {
  return Holder<int>::value + Holder<const int>::value + // expected-note {{in instantiation of 'Holder<const int>::value' requested here}}
         count<long>() + count<const long>(); // expected-note {{in instantiation of 'count<const long>' requested here}}
}
