#include <perm.h>
#include <string>
#include <vector>
namespace app {
// One variable seen from two translation units.
inline PERM long inline_counter;
template <class T> struct Holder {
  static PERM T *value;
};
template <class T> PERM T *Holder<T>::value;
} // namespace app
long bump_from_a();
long bump_from_b();
