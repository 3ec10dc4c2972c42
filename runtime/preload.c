/*
** preload.c - libperm-preload.so: persistence for unmodified programs, the
** way LLNL PERM's and PMalloc's LD_PRELOAD libraries did it.
**
**   PERM_FNAME=state.img LD_PRELOAD=libperm-preload.so ./prog     (or)
**   perm run --image state.img -- ./prog
**
** Before main, the executable's writable data and bss are registered as
** persistent ranges, so the program's globals come back with its heap.  Left
** out: the RELRO part (read-only after start-up) and objects the executable
** holds by copy relocation on behalf of shared libraries (stdout, environ,
** optarg...): they belong to this process, not to the program's state.
** PMalloc programs find pmalloc_store_heap_file() with dlsym.
**
** Only the process that owns the image persists (environ.c): LD_PRELOAD is
** inherited by every child, and a child (a shell's command, a wrapper's
** readlink) starts and exits with no image; nothing is registered for it.
**
** Memory the program maps itself.  Allocators that take memory straight from
** mmap (CPython's object allocator, a statically linked jemalloc) keep the
** program's state outside malloc, and its globals point there: restored
** without it, they point to nothing.  So while the image is open (and not
** in mode x), a private anonymous read-write mmap without MAP_FIXED is
** placed in the persistent region, as the heap's pages are, and saved and
** restored with it; munmap, mremap and madvise(MADV_DONTNEED or MADV_FREE)
** of such memory go through the region too (a page given back must read as
** zeros, even where the region is a private mapping of a lazily restored
** image).  Not placed: shared, file, executable, PROT_NONE (reservations),
** stack, locked, huge-page, fixed-address and 32-bit requests, a hint
** outside the region, and what the region cannot hold, which is mapped as
** usual with a warning.  The runtime's own calls (it is this library, found
** by the caller's address) go straight to the kernel.
*/
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../include/perm.h"
#include "environ.h"
#include "heap.h"
#include "perm_internal.h"
#include "region.h"
#include "registry.h"

#define PERM_EXPORT __attribute__((visibility("default")))
#ifndef MAP_UNINITIALIZED
#define MAP_UNINITIALIZED 0x4000000 /* <linux/mman.h>; glibc omits it */
#endif

#define PRELOAD_MAX_HOLES 256

typedef struct preload_range_s {
  uintptr_t lo, hi;
} preload_range_t;

typedef struct preload_exe_s {
  preload_range_t data[8]; /* writable PT_LOAD segments */
  int ndata;
  preload_range_t holes[PRELOAD_MAX_HOLES]; /* RELRO and copy relocations */
  int nholes;
} preload_exe_t;

static void preload_hole(preload_exe_t *e, uintptr_t lo, uintptr_t hi) {
  if (e->nholes < PRELOAD_MAX_HOLES && hi > lo)
    e->holes[e->nholes++] = (preload_range_t){lo, hi};
}

/* Objects copied into the executable by R_X86_64_COPY relocations. */
static void preload_copy_relocs(struct dl_phdr_info *info, preload_exe_t *e) {
  const ElfW(Dyn) *dyn = NULL;
  for (int i = 0; i < info->dlpi_phnum; i++)
    if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
      dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
  if (dyn == NULL)
    return;
  const ElfW(Rela) *rela = NULL;
  const ElfW(Sym) *symtab = NULL;
  size_t relasz = 0, relaent = sizeof(ElfW(Rela));
  for (; dyn->d_tag != DT_NULL; dyn++) {
    switch (dyn->d_tag) {
    case DT_RELA:
      rela = (const ElfW(Rela) *)dyn->d_un.d_ptr;
      break;
    case DT_RELASZ:
      relasz = dyn->d_un.d_val;
      break;
    case DT_RELAENT:
      relaent = dyn->d_un.d_val;
      break;
    case DT_SYMTAB:
      symtab = (const ElfW(Sym) *)dyn->d_un.d_ptr;
      break;
    }
  }
  if (rela == NULL || symtab == NULL || relaent == 0)
    return;
  for (size_t off = 0; off < relasz; off += relaent) {
    const ElfW(Rela) *r = (const ElfW(Rela) *)((const char *)rela + off);
    if (ELF64_R_TYPE(r->r_info) != R_X86_64_COPY)
      continue;
    const ElfW(Sym) *s = &symtab[ELF64_R_SYM(r->r_info)];
    uintptr_t lo = info->dlpi_addr + r->r_offset;
    preload_hole(e, lo, lo + s->st_size);
  }
}

static int preload_visit(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  preload_exe_t *e = arg;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W) && e->ndata < 8)
      e->data[e->ndata++] = (preload_range_t){lo, lo + ph->p_memsz};
    else if (ph->p_type == PT_GNU_RELRO)
      preload_hole(e, lo, lo + ph->p_memsz);
  }
  preload_copy_relocs(info, e);
  return 1; /* the executable is the first object: stop there */
}

static int preload_cmp(const void *a, const void *b) {
  const preload_range_t *x = a, *y = b;
  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Registers [lo, hi) minus the holes, each piece named by its place. */
static void preload_register(uintptr_t lo, uintptr_t hi,
                             const preload_exe_t *e) {
  uintptr_t at = lo;
  for (int i = 0; i <= e->nholes && at < hi; i++) {
    uintptr_t stop = i < e->nholes ? e->holes[i].lo : hi;
    if (stop > hi)
      stop = hi;
    if (stop > at) {
      char name[96];
      snprintf(name, sizeof name, "[executable data %#lx+%lu]",
               (unsigned long)at, (unsigned long)(stop - at));
      if (perm__registry_add_range((void *)at, stop - at, name,
                                   PERM_REG_RUNTIME) != 0)
        fprintf(stderr, "perm: %s\n", perm_error());
    }
    if (i < e->nholes && e->holes[i].hi > at)
      at = e->holes[i].hi;
  }
}

/*-------------------------------------------- the program's own mappings ---*/

/* This library's code: calls from it are the runtime's own. */
typedef struct preload_self_s {
  uintptr_t lo, len;
  int warned; /* a mapping did not fit in the region: said once */
} preload_self_t;

static preload_self_t preload_self;

static int preload_find_self(struct dl_phdr_info *info, size_t size,
                             void *arg) {
  (void)size;
  uintptr_t me = (uintptr_t)arg;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && me - lo < ph->p_memsz) {
      preload_self.lo = lo;
      preload_self.len = ph->p_memsz;
      return 1;
    }
  }
  return 0;
}

static void *preload_sys_mmap(void *addr, size_t len, int prot, int flags,
                              int fd, off_t off) {
  return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

/* A call from the program (or its libraries), not from the runtime itself. */
static int preload_program_call(const void *caller) {
  return (uintptr_t)caller - preload_self.lo >= preload_self.len;
}

/*
** New mappings persist while the image is open for plain allocations.  Region
** memory is the region's whatever the state: munmap, mremap and madvise of it
** always go through the region, or its bookkeeping would be wrong.
*/
static int preload_persisting(void) {
  return __atomic_load_n(&perm__dispatch.persistent, __ATOMIC_RELAXED);
}

/* Inside the fork gate (heap.h): a checkpoint never sees the region torn. */
static perm_thread_t *preload_enter(void) {
  return perm__gate_alone() ? NULL : perm__heap_enter();
}

static void preload_leave(perm_thread_t *t) {
  if (t != NULL)
    perm__heap_leave(t);
}

static size_t preload_pages(size_t len) {
  size_t page = perm__page_size();
  return (len + page - 1) & ~(page - 1);
}

/* Does [addr, addr+len) lie in the region? */
static int preload_in_region(const void *addr, size_t len) {
  uint64_t lo = perm__dispatch.lo, hi = perm__dispatch.hi;
  return (uint64_t)addr >= lo && (uint64_t)addr < hi && len <= hi - lo &&
         (uint64_t)addr - lo <= hi - lo - len;
}

/* A request the region serves: private, anonymous, read-write, movable. */
static int preload_placeable(void *addr, size_t len, int prot, int flags) {
  const int refused = MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_STACK |
                      MAP_GROWSDOWN | MAP_HUGETLB | MAP_32BIT | MAP_LOCKED |
                      MAP_UNINITIALIZED;
  return len != 0 && (flags & MAP_TYPE) == MAP_PRIVATE &&
         (flags & MAP_ANONYMOUS) && !(flags & refused) &&
         prot == (PROT_READ | PROT_WRITE) &&
         (addr == NULL || preload_in_region(addr, len));
}

static void preload_warn_outside(size_t len) {
  if (__atomic_exchange_n(&preload_self.warned, 1, __ATOMIC_RELAXED))
    return;
  fprintf(stderr,
          "perm: a mapping of %zu bytes does not fit in the persistent "
          "region (capacity %" PRIu64 " bytes): it is made outside it and is "
          "not persistent; a pointer to it is not valid after a restore "
          "(raise PERM_SIZE)\n",
          len, perm__saved.region.capacity);
}

static void *preload_mmap(void *addr, size_t len, int prot, int flags, int fd,
                          off_t off, const void *caller) {
  if (!preload_persisting() || !preload_program_call(caller) ||
      !preload_placeable(addr, len, prot, flags))
    return preload_sys_mmap(addr, len, prot, flags, fd, off);
  perm_thread_t *t = preload_enter();
  void *p = perm__region_alloc(&perm__saved.region, len, addr, prot);
  preload_leave(t);
  if (p != NULL)
    return p;
  preload_warn_outside(len);
  return preload_sys_mmap(NULL, len, prot, flags, fd, off);
}

PERM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd,
                       off_t off) {
  return preload_mmap(addr, len, prot, flags, fd, off,
                      __builtin_return_address(0));
}

/* The same function under its large-file name (Debian's python3 calls it). */
PERM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd,
                         off_t off) {
  return preload_mmap(addr, len, prot, flags, fd, off,
                      __builtin_return_address(0));
}

PERM_EXPORT int munmap(void *addr, size_t len) {
  if (!preload_program_call(__builtin_return_address(0)) ||
      !perm__in_region(addr))
    return (int)syscall(SYS_munmap, addr, len);
  if (len == 0 || (uintptr_t)addr % perm__page_size() != 0 ||
      !preload_in_region(addr, preload_pages(len))) {
    errno = EINVAL; /* as the kernel says */
    return -1;
  }
  perm_thread_t *t = preload_enter();
  int rc = perm__region_release(&perm__saved.region, addr, preload_pages(len));
  preload_leave(t);
  return rc;
}

/*
** Region memory grows in place when the pages after it are free, else it
** moves (MREMAP_MAYMOVE) to a new run, copied: the old run may be a private
** mapping of the image, which mremap would carry along.
*/
static void *preload_mremap_region(void *old, size_t oldlen, size_t newlen,
                                   int flags) {
  perm_region_t *r = &perm__saved.region;
  char *base = old;
  oldlen = preload_pages(oldlen);
  newlen = preload_pages(newlen);
  /* Fixed targets and old_size 0 (shared mappings only) are refused. */
  if (oldlen == 0 || newlen == 0 || (flags & ~MREMAP_MAYMOVE) != 0 ||
      (uintptr_t)old % perm__page_size() != 0 ||
      !preload_in_region(old, oldlen)) {
    errno = EINVAL;
    return MAP_FAILED;
  }
  if (newlen <= oldlen) {
    if (newlen < oldlen)
      perm__region_release(r, base + newlen, oldlen - newlen);
    return old;
  }
  void *tail =
      perm__region_alloc(r, newlen - oldlen, base + oldlen, PROT_READ | PROT_WRITE);
  if (tail == base + oldlen)
    return old;
  if (tail != NULL)
    perm__region_release(r, tail, newlen - oldlen);
  if (!(flags & MREMAP_MAYMOVE)) {
    errno = ENOMEM;
    return MAP_FAILED;
  }
  void *moved = perm__region_alloc(r, newlen, NULL, PROT_READ | PROT_WRITE);
  if (moved == NULL) {
    preload_warn_outside(newlen);
    moved = preload_sys_mmap(NULL, newlen, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (moved == MAP_FAILED)
      return MAP_FAILED;
  }
  memcpy(moved, old, oldlen);
  perm__region_release(r, old, oldlen);
  return moved;
}

PERM_EXPORT void *mremap(void *old, size_t oldlen, size_t newlen, int flags,
                         ...) {
  void *fixed = NULL;
  if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
    va_list ap;
    va_start(ap, flags);
    fixed = va_arg(ap, void *);
    va_end(ap);
  }
  if (!preload_program_call(__builtin_return_address(0)) ||
      !perm__in_region(old))
    return (void *)syscall(SYS_mremap, old, oldlen, newlen, flags, fixed);
  perm_thread_t *t = preload_enter();
  void *p = preload_mremap_region(old, oldlen, newlen, flags);
  preload_leave(t);
  return p;
}

PERM_EXPORT int madvise(void *addr, size_t len, int advice) {
  if ((advice == MADV_DONTNEED || advice == MADV_FREE) &&
      preload_program_call(__builtin_return_address(0)) &&
      perm__in_region(addr)) {
    if ((uintptr_t)addr % perm__page_size() != 0 ||
        !preload_in_region(addr, preload_pages(len))) {
      errno = EINVAL;
      return -1;
    }
    /* MADV_FREE's pages may read as zeros: the region's always do. */
    perm_thread_t *t = preload_enter();
    int rc = perm__region_purge(&perm__saved.region, addr, preload_pages(len));
    preload_leave(t);
    return rc;
  }
  return (int)syscall(SYS_madvise, addr, len, advice);
}

/*------------------------------------------------------------ start-up ---*/

__attribute__((constructor(102))) static void preload_start(void) {
  dl_iterate_phdr(preload_find_self, (void *)(uintptr_t)preload_find_self);
  /* A child of the owner, or nothing to own: no image, nothing to keep. */
  if (!perm__env_preloaded())
    return;
  static preload_exe_t exe;
  dl_iterate_phdr(preload_visit, &exe);
  qsort(exe.holes, (size_t)exe.nholes, sizeof exe.holes[0], preload_cmp);
  for (int i = 0; i < exe.ndata; i++)
    preload_register(exe.data[i].lo, exe.data[i].hi, &exe);
}

/* PMalloc's name for writing the heap to a file. */
__attribute__((visibility("default"))) int
pmalloc_store_heap_file(const char *name) {
  return perm_checkpoint_to(name);
}
