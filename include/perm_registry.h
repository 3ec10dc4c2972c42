/*
** perm_registry.h - the layout of one registry entry, shared by the Clang
** plugin (which emits entries) and the runtime (which reads them).
**
** The plugin emits one entry per PERM variable into the ELF section
** "perm_registry" of each translation unit, and one comdat constructor per
** linked module that hands the module's [__start_perm_registry,
** __stop_perm_registry) range to perm__registry_add().  The matching
** destructor calls perm__registry_remove() so dlclose() forgets the module.
**
** Changing this struct means bumping PERM_REGISTRY_VERSION: the runtime
** refuses entries of another version with a message naming the module.
*/
#ifndef PERM_REGISTRY_H
#define PERM_REGISTRY_H

#include <stdint.h>

#define PERM_REGISTRY_VERSION 1u
#define PERM_REGISTRY_SECTION "perm_registry"

/* Flags of an entry (bit values are part of the on-disk image format). */
#define PERM_REG_EXTERNAL 0x1u     /* external linkage: name is the C name */
#define PERM_REG_FILE_STATIC 0x2u  /* internal linkage: "file.c:name" */
#define PERM_REG_STATIC_LOCAL 0x4u /* static local: "function:name" */
#define PERM_REG_CXX 0x8u          /* C++: the name is demangled */
#define PERM_REG_RAW_SECTION                                                   \
  0x10u                        /* nameless: the whole "persistent" section */
#define PERM_REG_RUNTIME 0x20u /* registered at run time with perm_register()  \
                                */
/* In images only: not declared by the program that wrote the image (kept
** from the image it restored, or from a module it unloaded). */
#define PERM_REG_KEPT 0x40u

/*
** One persistent global.  All fields are 64-bit so that the layout is the
** same whatever the compiler pads; the struct is 48 bytes and 8-aligned.
*/
typedef struct perm_registry_entry_s {
  uint32_t version;   /* PERM_REGISTRY_VERSION */
  uint32_t flags;     /* PERM_REG_* */
  const char *name;   /* NUL-terminated, unique in the program */
  void *addr;         /* the variable */
  uint64_t size;      /* sizeof the variable */
  uint64_t align;     /* its alignment */
  uint64_t type_hash; /* hash of the type's layout, computed from the AST */
} perm_registry_entry_t;

#ifdef __cplusplus
extern "C" {
#endif

/* Called by the plugin's module constructor and destructor. */
void perm__registry_add(const perm_registry_entry_t *begin,
                        const perm_registry_entry_t *end);
void perm__registry_remove(const perm_registry_entry_t *begin,
                           const perm_registry_entry_t *end);

#ifdef __cplusplus
}
#endif

#endif /* PERM_REGISTRY_H */
