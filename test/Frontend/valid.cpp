// What may be PERM in C++: namespace-scope, class static, inline and
// template variables, static locals of functions, methods and templates.
// REQUIRES: plugin
// RUN: %clangxx -fplugin=%perm_plugin %cflags -std=c++17 -Wextra -fsyntax-only -Xclang -verify %s
// expected-no-diagnostics

#include <perm.h>

namespace ns {
PERM int counter;
}
namespace {
PERM int hidden;
}
struct Config {
  PERM static int level;
  inline static PERM int inline_level = 2;
  static int next() {
    static PERM int n;
    return ++n;
  }
};
int Config::level;
template <class T> struct Box {
  PERM static T value;
};
template <class T> T Box<T>::value;
template <class T> PERM T zero = T();
inline PERM long shared = 4;
template <class T> T count() {
  static PERM T c;
  return ++c;
}
PERM auto deduced = 5;
extern "C" {
PERM int c_visible;
}

int use() {
  return ns::counter + hidden + Config::level + Config::next() +
         Box<int>::value + zero<short> + int(shared) + count<int>() +
         deduced + c_visible;
}
