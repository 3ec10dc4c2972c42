/*
** pallocator.h - C++ helpers for persistent objects, with LLNL PERM's names.
**
**   std::vector<int, PERM_NS::allocator<int>> *v =
**       PERM_NEW(std::vector<int, PERM_NS::allocator<int>>);
**   PERM_DELETE(v, std::vector<int, PERM_NS::allocator<int>>);
**
**   struct Node { PERM_OVERRIDE_NEW  ... };   // new Node: persistent
**
** They allocate with perm_malloc & co., so they persist even in "x" mode,
** where plain malloc (and so plain new) stays transient.
*/
#ifndef PERM_PALLOCATOR_H
#define PERM_PALLOCATOR_H

#include <perm.h>

#include <cstddef>
#include <limits>
#include <new>
#include <type_traits>

#ifndef PERM_NS
#define PERM_NS perm_ns
#endif

namespace PERM_NS {

/* A standard allocator over the persistent heap, for STL containers. */
template <class T> struct allocator {
  using value_type = T;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using propagate_on_container_move_assignment = std::true_type;
  template <class U> struct rebind { using other = allocator<U>; };

  allocator() noexcept = default;
  template <class U> allocator(const allocator<U> &) noexcept {}

  T *allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T))
      throw std::bad_array_new_length();
    void *p = alignof(T) > alignof(std::max_align_t)
                  ? perm_aligned_alloc(alignof(T), n * sizeof(T))
                  : perm_malloc(n * sizeof(T));
    if (p == nullptr)
      throw std::bad_alloc();
    return static_cast<T *>(p);
  }
  void deallocate(T *p, std::size_t) noexcept { perm_free(p); }
};

template <class T, class U>
bool operator==(const allocator<T> &, const allocator<U> &) noexcept {
  return true;
}
template <class T, class U>
bool operator!=(const allocator<T> &, const allocator<U> &) noexcept {
  return false;
}

/* Storage for PERM_NEW: throws like new when the heap is full or closed. */
inline void *new_storage(std::size_t size, std::size_t align) {
  void *p = align > alignof(std::max_align_t) ? perm_aligned_alloc(align, size)
                                              : perm_malloc(size ? size : 1);
  if (p == nullptr)
    throw std::bad_alloc();
  return p;
}

} // namespace PERM_NS

/* A persistent object of type T, constructed with the given arguments. */
#define PERM_NEW(T, ...)                                                       \
  (new (PERM_NS::new_storage(sizeof(T), alignof(T))) T(__VA_ARGS__))
/* Destroys and frees an object made by PERM_NEW. */
#define PERM_DELETE(obj, T)                                                    \
  do {                                                                         \
    (obj)->~T();                                                               \
    perm_free(obj);                                                            \
  } while (0)
/* Frees persistent memory without running a destructor. */
#define PERM_FREE(obj) perm_free(obj)
/* In a class body: new and delete of that class use the persistent heap. */
#define PERM_OVERRIDE_NEW                                                      \
  static void *operator new(std::size_t size) {                                \
    return PERM_NS::new_storage(size, alignof(std::max_align_t));              \
  }                                                                            \
  static void *operator new[](std::size_t size) {                              \
    return PERM_NS::new_storage(size, alignof(std::max_align_t));              \
  }                                                                            \
  static void operator delete(void *p) noexcept { perm_free(p); }              \
  static void operator delete[](void *p) noexcept { perm_free(p); }

#endif /* PERM_PALLOCATOR_H */
