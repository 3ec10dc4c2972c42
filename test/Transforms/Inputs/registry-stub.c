/*
** registry-stub.c - a stand-in for the runtime's registry, for the link
** tests of test/Transforms: prints what each module constructor and
** destructor hands over, and lets the program look an entry up by name.
*/
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "perm_registry.h"

static const perm_registry_entry_t *stub_begin, *stub_end;

void perm__registry_add(const perm_registry_entry_t *begin,
                        const perm_registry_entry_t *end) {
  const perm_registry_entry_t *e;
  printf("add %d\n", (int)(end - begin));
  for (e = begin; e < end; ++e)
    printf("entry v%" PRIu32 " flags=0x%" PRIx32 " name=%s size=%" PRIu64
           " align=%" PRIu64 " hash=%s\n",
           e->version, e->flags, e->name, e->size, e->align,
           e->type_hash ? "set" : "zero");
  stub_begin = begin;
  stub_end = end;
}

void perm__registry_remove(const perm_registry_entry_t *begin,
                           const perm_registry_entry_t *end) {
  printf("remove %d\n", (int)(end - begin));
  fflush(stdout);
}

/* The address the last registered module gave for name, or NULL. */
void *stub_lookup(const char *name) {
  const perm_registry_entry_t *e;
  for (e = stub_begin; e < stub_end; ++e)
    if (strcmp(e->name, name) == 0)
      return e->addr;
  return NULL;
}
