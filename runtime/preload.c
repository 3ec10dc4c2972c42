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
*/
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../include/perm.h"
#include "environ.h"
#include "perm_internal.h"
#include "registry.h"

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

__attribute__((constructor(102))) static void preload_start(void) {
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
