/*
** registry.c - the persistent globals of the running program.
**
** Three sources: the plugin's per-module registry ranges
** (perm__registry_add, called by each module's constructor), the raw
** "persistent" section of modules built without the plugin
** (perm__registry_add_raw, from perm.h), and perm_register().  Entries are
** de-duplicated by address: C++ inline variables appear in several TUs.
**
** Restore matches entries by name.  Same type hash and size: the bytes are
** copied.  New in this build: it keeps its initializer.  Gone from this
** build: ignored.  Both are counted for perm_stats() and perm info.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../include/perm.h"
#include "image_format.h"
#include "registry.h"

typedef struct registry_module_s {
  const perm_registry_entry_t *begin, *end;
} registry_module_t;

typedef struct registry_s {
  pthread_mutex_t lock;       /* Synchronizes everything below. */
  registry_module_t *modules; /* plugin ranges, in registration order */
  size_t nmodules, capmodules;
  perm_registry_entry_t *own; /* raw sections and perm_register() */
  size_t nown, capown;
  void *image_block; /* the restored image's REGISTRY block */
  size_t image_len;
  perm_restore_counts_t counts;
} registry_t;

static registry_t registry = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Declared in perm.h's fallback path; exported for it. */
__attribute__((visibility("default"))) void perm__registry_add_raw(void *begin,
                                                                   void *end);

static int registry_grow(void **arr, size_t *cap, size_t n, size_t elem) {
  if (n < *cap)
    return 0;
  size_t ncap = *cap ? *cap * 2 : 16;
  void *p = perm__trealloc(*arr, ncap * elem);
  if (p == NULL)
    return -ENOMEM;
  *arr = p;
  *cap = ncap;
  return 0;
}

static void registry_late_restore(const perm_registry_entry_t *e);

__attribute__((visibility("default"))) void
perm__registry_add(const perm_registry_entry_t *begin,
                   const perm_registry_entry_t *end) {
  if (begin == NULL || end == NULL || begin >= end)
    return;
  if (begin->version != PERM_REGISTRY_VERSION) {
    perm__verbose("ignoring a registry of version %u (this runtime reads %u): "
                  "rebuild the module with this release's libperm.so",
                  begin->version, PERM_REGISTRY_VERSION);
    return;
  }
  pthread_mutex_lock(&registry.lock);
  for (size_t i = 0; i < registry.nmodules; i++)
    if (registry.modules[i].begin == begin) {
      pthread_mutex_unlock(&registry.lock);
      return;
    }
  if (registry_grow((void **)&registry.modules, &registry.capmodules,
                    registry.nmodules, sizeof *registry.modules) == 0) {
    registry.modules[registry.nmodules].begin = begin;
    registry.modules[registry.nmodules].end = end;
    registry.nmodules++;
  }
  if (registry.image_block != NULL)
    for (const perm_registry_entry_t *e = begin; e < end; e++)
      registry_late_restore(e);
  pthread_mutex_unlock(&registry.lock);
}

__attribute__((visibility("default"))) void
perm__registry_remove(const perm_registry_entry_t *begin,
                      const perm_registry_entry_t *end) {
  (void)end;
  pthread_mutex_lock(&registry.lock);
  for (size_t i = 0; i < registry.nmodules; i++)
    if (registry.modules[i].begin == begin) {
      memmove(&registry.modules[i], &registry.modules[i + 1],
              (registry.nmodules - i - 1) * sizeof *registry.modules);
      registry.nmodules--;
      break;
    }
  pthread_mutex_unlock(&registry.lock);
}

static int registry_add_own(void *addr, size_t size, const char *name,
                            uint32_t flags) {
  pthread_mutex_lock(&registry.lock);
  for (size_t i = 0; i < registry.nown; i++) {
    perm_registry_entry_t *o = &registry.own[i];
    if (o->addr == addr) {
      if (size > o->size)
        o->size = size; /* merged: registered twice */
      pthread_mutex_unlock(&registry.lock);
      return 0;
    }
  }
  int rc = registry_grow((void **)&registry.own, &registry.capown,
                         registry.nown, sizeof *registry.own);
  if (rc == 0) {
    perm_registry_entry_t *o = &registry.own[registry.nown++];
    o->version = PERM_REGISTRY_VERSION;
    o->flags = flags;
    o->name = name;
    o->addr = addr;
    o->size = size;
    o->align = 1;
    o->type_hash = 0;
    if (registry.image_block != NULL)
      registry_late_restore(o);
  }
  pthread_mutex_unlock(&registry.lock);
  return rc;
}

/* The raw section of one module, named after the module so several can coexist.
 */
void perm__registry_add_raw(void *begin, void *end) {
  if (begin == NULL || end == NULL || (char *)end <= (char *)begin)
    return;
  Dl_info info;
  const char *module = "?";
  if (dladdr(begin, &info) != 0 && info.dli_fname != NULL)
    module = strrchr(info.dli_fname, '/') ? strrchr(info.dli_fname, '/') + 1
                                          : info.dli_fname;
  char name[512];
  snprintf(name, sizeof name, "[persistent section of %s]", module);
  char *copy = perm__tstrdup(name);
  if (copy != NULL)
    registry_add_own(begin, (size_t)((char *)end - (char *)begin), copy,
                     PERM_REG_RAW_SECTION);
}

int perm_register(void *addr, size_t size, const char *name) {
  if (addr == NULL || size == 0) {
    perm__errorf(EINVAL, "perm_register(%p, %zu): the range is empty", addr,
                 size);
    errno = EINVAL;
    return -1;
  }
  char *copy;
  if (name != NULL) {
    copy = perm__tstrdup(name);
  } else {
    char buf[64];
    snprintf(buf, sizeof buf, "[range %p+%zu]", addr, size);
    copy = perm__tstrdup(buf);
  }
  if (copy == NULL) {
    errno = ENOMEM;
    return -1;
  }
  int rc = registry_add_own(addr, size, copy, PERM_REG_RUNTIME);
  if (rc != 0) {
    perm__errorf(-rc, "perm_register: out of memory");
    errno = -rc;
    return -1;
  }
  return 0;
}

int perm__registry_has_raw(void) {
  pthread_mutex_lock(&registry.lock);
  int raw = 0;
  for (size_t i = 0; i < registry.nown; i++)
    raw |= (registry.own[i].flags & PERM_REG_RAW_SECTION) != 0;
  pthread_mutex_unlock(&registry.lock);
  return raw;
}

/*
** The live entries, de-duplicated by address, into a transient array.
** Called with the lock held.
*/
static int registry_collect(perm_registry_entry_t **out, size_t *n) {
  size_t cap = registry.nown;
  for (size_t i = 0; i < registry.nmodules; i++)
    cap += (size_t)(registry.modules[i].end - registry.modules[i].begin);
  perm_registry_entry_t *v = perm__tmalloc((cap ? cap : 1) * sizeof *v);
  if (v == NULL)
    return -ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i < registry.nmodules; i++)
    for (const perm_registry_entry_t *e = registry.modules[i].begin;
         e < registry.modules[i].end; e++) {
      if (e->version != PERM_REGISTRY_VERSION || e->addr == NULL)
        continue; /* padding between TUs' entries */
      int dup = 0;
      for (size_t j = 0; j < k && !dup; j++)
        dup = v[j].addr == e->addr;
      if (!dup)
        v[k++] = *e;
    }
  for (size_t i = 0; i < registry.nown; i++) {
    perm_registry_entry_t *o = &registry.own[i];
    int dup = 0;
    for (size_t j = 0; j < k && !dup; j++)
      dup = v[j].addr == o->addr;
    if (!dup)
      v[k++] = *o;
  }
  *out = v;
  *n = k;
  return 0;
}

static size_t align16(size_t v) { return (v + 15) & ~(size_t)15; }

int perm__registry_serialize(void **out, size_t *len) {
  pthread_mutex_lock(&registry.lock);
  perm_registry_entry_t *v;
  size_t n;
  int rc = registry_collect(&v, &n);
  if (rc != 0) {
    pthread_mutex_unlock(&registry.lock);
    return perm__errorf(ENOMEM, "cannot list the persistent globals");
  }
  size_t names = 0, data = 0;
  for (size_t i = 0; i < n; i++) {
    names += strlen(v[i].name) + 1;
    data += align16(v[i].size);
  }
  size_t head = sizeof(perm_image_table_t) + n * sizeof(perm_image_global_t);
  size_t total = align16(head + names) + data;
  char *buf = perm__tcalloc(1, total ? total : 1);
  if (buf == NULL) {
    perm__tfree(v);
    pthread_mutex_unlock(&registry.lock);
    return perm__errorf(ENOMEM, "cannot serialise the persistent globals");
  }
  perm_image_table_t *t = (perm_image_table_t *)buf;
  t->count = (uint32_t)n;
  t->entry_size = sizeof(perm_image_global_t);
  perm_image_global_t *g = (perm_image_global_t *)(buf + sizeof *t);
  size_t name_off = head, data_off = align16(head + names);
  for (size_t i = 0; i < n; i++) {
    size_t nl = strlen(v[i].name) + 1;
    memcpy(buf + name_off, v[i].name, nl);
    memcpy(buf + data_off, v[i].addr, v[i].size);
    g[i] = (perm_image_global_t){.name_offset = name_off,
                                 .addr = (uint64_t)v[i].addr,
                                 .size = v[i].size,
                                 .align = v[i].align,
                                 .type_hash = v[i].type_hash,
                                 .data_offset = data_off,
                                 .flags = v[i].flags};
    name_off += nl;
    data_off += align16(v[i].size);
  }
  perm__tfree(v);
  pthread_mutex_unlock(&registry.lock);
  *out = buf;
  *len = total;
  return 0;
}

/* Validates the block's table; returns the entry array or NULL. */
static const perm_image_global_t *registry_table(const void *block, size_t len,
                                                 uint32_t *count) {
  const perm_image_table_t *t = block;
  if (len < sizeof *t || t->entry_size != sizeof(perm_image_global_t) ||
      t->count > (len - sizeof *t) / sizeof(perm_image_global_t))
    return NULL;
  const perm_image_global_t *g =
      (const perm_image_global_t *)((const char *)block + sizeof *t);
  for (uint32_t i = 0; i < t->count; i++) {
    if (g[i].name_offset >= len || g[i].data_offset > len ||
        g[i].size > len - g[i].data_offset ||
        memchr((const char *)block + g[i].name_offset, '\0',
               len - g[i].name_offset) == NULL)
      return NULL;
  }
  *count = t->count;
  return g;
}

static const perm_image_global_t *registry_find(const void *block, size_t len,
                                                const char *name) {
  uint32_t n;
  const perm_image_global_t *g = registry_table(block, len, &n);
  if (g == NULL)
    return NULL;
  for (uint32_t i = 0; i < n; i++)
    if (strcmp((const char *)block + g[i].name_offset, name) == 0)
      return &g[i];
  return NULL;
}

static int registry_check_one(const perm_registry_entry_t *e,
                              const perm_image_global_t *g, const char *path) {
  if (e->flags & PERM_REG_RAW_SECTION) {
    if (g->addr != (uint64_t)e->addr || g->size != e->size)
      return perm__errorf(EINVAL,
                          "%s: the 'persistent' section was %" PRIu64
                          " bytes at 0x%" PRIx64 ", this build has %" PRIu64
                          " bytes at %p; a program built without the PERM "
                          "plugin restores only into the identical binary "
                          "(build with clang-19 -fplugin=libperm.so to restore "
                          "globals by name)",
                          path, g->size, g->addr, e->size, e->addr);
    return 0;
  }
  if (g->size != e->size || g->type_hash != e->type_hash)
    return perm__errorf(EINVAL,
                        "%s: the persistent global '%s' changed type: the "
                        "image holds %" PRIu64 " bytes (type hash 0x%016" PRIx64
                        "), this build has %" PRIu64 " bytes (type hash "
                        "0x%016" PRIx64 "); restore with the build that wrote "
                        "the image, or rename the variable so it starts fresh",
                        path, e->name, g->size, g->type_hash, e->size,
                        e->type_hash);
  return 0;
}

int perm__registry_restore(const void *block, size_t len, int apply,
                           perm_restore_counts_t *counts) {
  uint32_t nimg;
  if (registry_table(block, len, &nimg) == NULL)
    return perm__errorf(EINVAL, "the registry block is malformed");
  pthread_mutex_lock(&registry.lock);
  perm_registry_entry_t *v;
  size_t n;
  if (registry_collect(&v, &n) != 0) {
    pthread_mutex_unlock(&registry.lock);
    return perm__errorf(ENOMEM, "cannot list the persistent globals");
  }
  perm_restore_counts_t c = {0, 0, 0};
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const perm_image_global_t *g = registry_find(block, len, v[i].name);
    if (g == NULL) {
      c.fresh++;
      perm__verbose(
          "global '%s' is new in this build: it keeps its initializer",
          v[i].name);
      continue;
    }
    rc = registry_check_one(&v[i], g, "image");
    if (rc == 0 && apply)
      memcpy(v[i].addr, (const char *)block + g->data_offset, v[i].size);
    c.restored++;
  }
  if (rc == 0)
    c.dropped = nimg > c.restored ? nimg - c.restored : 0;
  perm__tfree(v);
  if (rc == 0 && apply)
    registry.counts = c;
  pthread_mutex_unlock(&registry.lock);
  if (counts != NULL)
    *counts = c;
  return rc;
}

/* A module registered after the restore (dlopen): restore its globals now. */
static void registry_late_restore(const perm_registry_entry_t *e) {
  if (e->version != PERM_REGISTRY_VERSION || e->addr == NULL)
    return;
  const perm_image_global_t *g =
      registry_find(registry.image_block, registry.image_len, e->name);
  if (g == NULL) {
    registry.counts.fresh++;
    return;
  }
  if (registry_check_one(e, g, "image") != 0) {
    /* Not fatal here: the module keeps its initializer; say why. */
    fprintf(stderr, "perm: %s\n", perm__error_message());
    return;
  }
  memcpy(e->addr, (const char *)registry.image_block + g->data_offset, e->size);
  registry.counts.restored++;
  if (registry.counts.dropped > 0)
    registry.counts.dropped--;
}

void perm__registry_keep_image(void *block, size_t len) {
  pthread_mutex_lock(&registry.lock);
  perm__tfree(registry.image_block);
  registry.image_block = block;
  registry.image_len = len;
  pthread_mutex_unlock(&registry.lock);
}

void perm__registry_forget_image(void) { perm__registry_keep_image(NULL, 0); }

void perm__registry_counts(perm_restore_counts_t *counts) {
  pthread_mutex_lock(&registry.lock);
  *counts = registry.counts;
  pthread_mutex_unlock(&registry.lock);
}
