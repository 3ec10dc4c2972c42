/*
** elf_registry.h - a program's persistent globals, read from its ELF file
** without running it (for perm info --binary).
*/
#ifndef PERM_TOOL_ELF_REGISTRY_H
#define PERM_TOOL_ELF_REGISTRY_H

#include <stdint.h>

/* One entry of the plugin's registry (include/perm_registry.h), resolved. */
typedef struct elf_global_s {
  char *name;    /* owned; as the runtime will name the global */
  uint64_t addr; /* link-time address (add the load address for PIE) */
  uint64_t size;
  uint64_t align;
  uint64_t type_hash;
  uint32_t flags; /* PERM_REG_* */
} elf_global_t;

/* What of a program decides whether it restores an image. */
typedef struct elf_program_s {
  const char *path;
  int pie;               /* ET_DYN: addresses are relative to the load */
  uint8_t build_id[40];  /* NT_GNU_BUILD_ID, as the runtime records it */
  uint32_t build_id_len; /* 0 when the program has none */
  uint64_t span_lo;      /* lowest PT_LOAD address */
  uint64_t span_hi;      /* end of the highest PT_LOAD */
  int has_registry;      /* a "perm_registry" section: built with the plugin */
  int has_raw;           /* registers its "persistent" section as one range */
  uint64_t raw_addr;     /* that section, when has_raw */
  uint64_t raw_size;
  elf_global_t *globals; /* de-duplicated by address, as the runtime does */
  uint32_t nglobals;
} elf_program_t;

/*
** Reads path's registry.  0, or -1 after printing (tool_error) what is
** wrong with which file.
*/
int elf_registry_read(elf_program_t *p, const char *path);
void elf_registry_free(elf_program_t *p);

#endif /* PERM_TOOL_ELF_REGISTRY_H */
