/*
** registry.c - the persistent globals of the running program.
**
** Sources: the plugin's per-module registry ranges (perm__registry_add,
** called by each module's constructor), the raw "persistent" section of
** modules built without the plugin (perm__registry_add_raw, from perm.h),
** and perm_register().  Entries are de-duplicated by address: C++ inline
** variables appear in several TUs, and PERM programs also register their
** whole PERM block with perm(PERM_START, PERM_SIZE).
**
** Restore matches entries by name.  Same type hash and size: the bytes are
** copied.  New in this build: it keeps its initializer.  In the image but
** not declared here: not restored, but kept in the next images with the
** bytes it had ("kept"), so a program of the same application that does
** declare it finds it again (a heap file shared by several programs).
**
** A module that unregisters while an image is open (dlclose) leaves its
** globals' last values behind ("detached"): later checkpoints save them,
** and the module finds them again if it is loaded again.
**
** Globals registered after the restore (the executable's own, when the
** environment opened the image before main; dlopen'ed modules) are restored
** as they register.  A type mismatch found then is fatal while the program
** starts (perm__registry_startup_error), and a message otherwise.
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

/* The last bytes of a global whose module unregistered. */
typedef struct registry_detached_s {
  perm_registry_entry_t entry; /* name owned here; addr as it was */
  void *bytes;                 /* entry.size bytes, transient memory */
} registry_detached_t;

typedef struct registry_s {
  pthread_mutex_t lock;       /* Synchronizes everything below. */
  registry_module_t *modules; /* plugin ranges, in registration order */
  size_t nmodules, capmodules;
  perm_registry_entry_t *own; /* raw sections and perm_register() */
  size_t nown, capown;
  registry_detached_t *detached;
  size_t ndetached, capdetached;
  void *image_block; /* the restored image's REGISTRY block */
  size_t image_len;
  perm_registry_policy_t policy; /* how late registrations are judged */
  char startup_error[1024];      /* the first late mismatch, while starting */
  int detach_enabled;            /* an image is open: keep values at dlclose */
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

/* Names the runtime makes up from an address start with '['. */
static int registry_generated_name(const char *name) { return name[0] == '['; }

static int registry_valid(const perm_registry_entry_t *e) {
  return e->version == PERM_REGISTRY_VERSION && e->addr != NULL &&
         e->name != NULL;
}

/*------------------------------------------------------ image entries ---*/

/*
** The entries of a REGISTRY block, or NULL.  The block comes from a view
** that image_validate.c checked (counts, names, bytes inside the block,
** distinct names), so nothing is checked twice here.
*/
static const perm_image_global_t *registry_table(const void *block, size_t len,
                                                 uint32_t *count) {
  (void)len;
  if (block == NULL)
    return NULL;
  const perm_image_table_t *t = block;
  *count = t->count;
  return (const perm_image_global_t *)((const char *)block + sizeof *t);
}

static const char *registry_image_name(const void *block,
                                       const perm_image_global_t *g) {
  return (const char *)block + g->name_offset;
}

static const perm_image_global_t *registry_find(const void *block, size_t len,
                                                const char *name) {
  uint32_t n;
  const perm_image_global_t *g = registry_table(block, len, &n);
  if (g == NULL)
    return NULL;
  for (uint32_t i = 0; i < n; i++)
    if (strcmp(registry_image_name(block, &g[i]), name) == 0)
      return &g[i];
  return NULL;
}

/*------------------------------------------------------ registration ---*/

static void registry_late_restore(const perm_registry_entry_t *e);

/* A detached global of that name, or -1. */
static long registry_find_detached(const char *name) {
  for (size_t i = 0; i < registry.ndetached; i++)
    if (strcmp(registry.detached[i].entry.name, name) == 0)
      return (long)i;
  return -1;
}

static void registry_drop_detached(size_t i) {
  perm__tfree((void *)registry.detached[i].entry.name);
  perm__tfree(registry.detached[i].bytes);
  memmove(&registry.detached[i], &registry.detached[i + 1],
          (registry.ndetached - i - 1) * sizeof *registry.detached);
  registry.ndetached--;
}

/*
** A module loaded again in this process finds the values its globals had
** when it was unloaded: they are newer than the image's.
*/
static int registry_reattach(const perm_registry_entry_t *e) {
  long i = registry_find_detached(e->name);
  if (i < 0)
    return 0;
  registry_detached_t *d = &registry.detached[i];
  int same = d->entry.size == e->size && d->entry.type_hash == e->type_hash;
  if (same)
    memcpy(e->addr, d->bytes, e->size);
  registry_drop_detached((size_t)i);
  return same;
}

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
  for (const perm_registry_entry_t *e = begin; e < end; e++) {
    if (!registry_valid(e))
      continue; /* padding between TUs' entries */
    if (!registry_reattach(e) && registry.image_block != NULL)
      registry_late_restore(e);
  }
  pthread_mutex_unlock(&registry.lock);
}

/* Keeps the current bytes of a module's globals: they outlive dlclose. */
static void registry_detach(const perm_registry_entry_t *begin,
                            const perm_registry_entry_t *end) {
  for (const perm_registry_entry_t *e = begin; e < end; e++) {
    if (!registry_valid(e))
      continue;
    long old = registry_find_detached(e->name);
    if (old >= 0)
      registry_drop_detached((size_t)old);
    void *bytes = perm__tmalloc(e->size ? e->size : 1);
    char *name = perm__tstrdup(e->name);
    if (bytes == NULL || name == NULL ||
        registry_grow((void **)&registry.detached, &registry.capdetached,
                      registry.ndetached, sizeof *registry.detached) != 0) {
      perm__tfree(bytes);
      perm__tfree(name);
      fprintf(stderr, "perm: out of memory keeping the persistent global '%s' "
                      "of an unloaded module; the next image will not hold it\n",
              e->name);
      continue;
    }
    memcpy(bytes, e->addr, e->size);
    registry_detached_t *d = &registry.detached[registry.ndetached++];
    d->entry = *e;
    d->entry.name = name;
    d->bytes = bytes;
  }
}

__attribute__((visibility("default"))) void
perm__registry_remove(const perm_registry_entry_t *begin,
                      const perm_registry_entry_t *end) {
  pthread_mutex_lock(&registry.lock);
  for (size_t i = 0; i < registry.nmodules; i++)
    if (registry.modules[i].begin == begin) {
      if (registry.detach_enabled)
        registry_detach(begin, end);
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
      perm__tfree((void *)name);
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
  } else {
    perm__tfree((void *)name);
  }
  pthread_mutex_unlock(&registry.lock);
  return rc;
}

/* The raw section of one module, named after the module so several can
** coexist. */
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

int perm__registry_add_range(void *addr, size_t size, const char *name,
                              uint32_t flags) {
  char *copy = perm__tstrdup(name);
  if (copy == NULL)
    return perm__errorf(ENOMEM, "perm_register: out of memory");
  int rc = registry_add_own(addr, size, copy, flags);
  return rc != 0 ? perm__errorf(-rc, "perm_register: out of memory") : 0;
}

int perm_register(void *addr, size_t size, const char *name) {
  if (addr == NULL || size == 0) {
    perm__errorf(EINVAL, "perm_register(%p, %zu): the range is empty", addr,
                 size);
    errno = EINVAL;
    return -1;
  }
  if (name != NULL && registry_generated_name(name)) {
    perm__errorf(EINVAL,
                 "perm_register(%p, %zu, \"%s\"): names starting with '[' "
                 "are reserved for ranges PERM names by address",
                 addr, size, name);
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

/*----------------------------------------------------- the live set ---*/

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
      if (!registry_valid(e))
        continue;
      int dup = 0;
      for (size_t j = 0; j < k && !dup; j++)
        dup = v[j].addr == e->addr;
      if (!dup)
        v[k++] = *e;
    }
  /*
  ** perm(PERM_START, PERM_SIZE) starts at the first PERM variable: with the
  ** plugin, its named entry wins and the range adds nothing.
  */
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

/* Is name among the live entries v[0, n) or the detached ones? */
static int registry_declared(const perm_registry_entry_t *v, size_t n,
                             const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(v[i].name, name) == 0)
      return 1;
  return registry_find_detached(name) >= 0;
}

/*------------------------------------------------------- serialising ---*/

static size_t align16(size_t v) { return (v + 15) & ~(size_t)15; }

/* One global as the writer lays it out. */
typedef struct registry_out_s {
  const char *name;
  uint64_t addr, size, align, type_hash;
  uint32_t flags;
  const void *bytes;
} registry_out_t;

int perm__registry_serialize(void **out, size_t *len) {
  pthread_mutex_lock(&registry.lock);
  perm_registry_entry_t *v;
  size_t n;
  int rc = registry_collect(&v, &n);
  if (rc != 0) {
    pthread_mutex_unlock(&registry.lock);
    return perm__errorf(ENOMEM, "cannot list the persistent globals");
  }
  uint32_t nimg = 0;
  const perm_image_global_t *img =
      registry_table(registry.image_block, registry.image_len, &nimg);
  if (img == NULL)
    nimg = 0;
  registry_out_t *o = perm__tcalloc(n + registry.ndetached + nimg + 1,
                                    sizeof *o);
  if (o == NULL) {
    perm__tfree(v);
    pthread_mutex_unlock(&registry.lock);
    return perm__errorf(ENOMEM, "cannot list the persistent globals");
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    o[k++] = (registry_out_t){v[i].name,      (uint64_t)v[i].addr,
                              v[i].size,      v[i].align,
                              v[i].type_hash, v[i].flags,
                              v[i].addr};
  for (size_t i = 0; i < registry.ndetached; i++) {
    const perm_registry_entry_t *e = &registry.detached[i].entry;
    o[k++] = (registry_out_t){e->name,      (uint64_t)e->addr,
                              e->size,      e->align,
                              e->type_hash, e->flags | PERM_REG_KEPT,
                              registry.detached[i].bytes};
  }
  /* The image's globals this program does not declare stay in the image. */
  for (uint32_t i = 0; i < nimg; i++) {
    const char *name = registry_image_name(registry.image_block, &img[i]);
    if (registry_generated_name(name) || registry_declared(v, n, name))
      continue;
    o[k++] = (registry_out_t){name,
                              img[i].addr,
                              img[i].size,
                              img[i].align,
                              img[i].type_hash,
                              img[i].flags | PERM_REG_KEPT,
                              (const char *)registry.image_block +
                                  img[i].data_offset};
  }
  size_t names = 0, data = 0;
  for (size_t i = 0; i < k; i++) {
    names += strlen(o[i].name) + 1;
    data += align16(o[i].size);
  }
  size_t head = sizeof(perm_image_table_t) + k * sizeof(perm_image_global_t);
  size_t total = align16(head + names) + data;
  char *buf = perm__tcalloc(1, total ? total : 1);
  if (buf == NULL) {
    perm__tfree(o);
    perm__tfree(v);
    pthread_mutex_unlock(&registry.lock);
    return perm__errorf(ENOMEM, "cannot serialise the persistent globals");
  }
  perm_image_table_t *t = (perm_image_table_t *)buf;
  t->count = (uint32_t)k;
  t->entry_size = sizeof(perm_image_global_t);
  perm_image_global_t *g = (perm_image_global_t *)(buf + sizeof *t);
  size_t name_off = head, data_off = align16(head + names);
  for (size_t i = 0; i < k; i++) {
    size_t nl = strlen(o[i].name) + 1;
    memcpy(buf + name_off, o[i].name, nl);
    memcpy(buf + data_off, o[i].bytes, o[i].size);
    g[i] = (perm_image_global_t){.name_offset = name_off,
                                 .addr = o[i].addr,
                                 .size = o[i].size,
                                 .align = o[i].align,
                                 .type_hash = o[i].type_hash,
                                 .data_offset = data_off,
                                 .flags = o[i].flags};
    name_off += nl;
    data_off += align16(o[i].size);
  }
  perm__tfree(o);
  perm__tfree(v);
  pthread_mutex_unlock(&registry.lock);
  *out = buf;
  *len = total;
  return 0;
}

/*--------------------------------------------------------- restoring ---*/

/* Who wrote the image and who reads it, for messages. */
static const char *registry_writer(void) {
  return registry.policy.writer[0] ? registry.policy.writer : "the image";
}


static const char *registry_reader(void) {
  return registry.policy.reader[0] ? registry.policy.reader : "this build";
}

static int registry_check_one(const perm_registry_entry_t *e,
                              const perm_image_global_t *g, const char *path) {
  if (e->flags & PERM_REG_RAW_SECTION) {
    if (g->addr != (uint64_t)e->addr || g->size != e->size)
      return perm__errorf(EINVAL,
                          "%s: the 'persistent' section was %" PRIu64
                          " bytes at 0x%" PRIx64 " in %s, %s has %" PRIu64
                          " bytes at %p; a program built without the PERM "
                          "plugin restores only into the identical binary "
                          "(build with clang-19 -fplugin=libperm.so to restore "
                          "globals by name)",
                          path, g->size, g->addr, registry_writer(),
                          registry_reader(), e->size, e->addr);
    return 0;
  }
  if (g->size != e->size || g->type_hash != e->type_hash)
    return perm__errorf(EINVAL,
                        "%s: the persistent global '%s' changed type: %s "
                        "holds %" PRIu64 " bytes (type hash 0x%016" PRIx64
                        "), %s has %" PRIu64 " bytes (type hash "
                        "0x%016" PRIx64 "); restore with the build that wrote "
                        "the image, or rename the variable so it starts fresh",
                        path, e->name, registry_writer(), g->size,
                        g->type_hash, registry_reader(), e->size, e->type_hash);
  return 0;
}

/*
** With another program's image (mode letter s, mopen, PERM_FNAME), every
** global this program declares must be in the image: a global that is not
** would start from its initializer beside a heap built by another program.
*/
static int registry_check_strict(const perm_registry_entry_t *e,
                                 const char *path) {
  if (!registry.policy.strict)
    return 0;
  if (registry_generated_name(e->name))
    return perm__errorf(
        EINVAL,
        "%s: the persistent range %s of %s is known only by its address, "
        "which the program that wrote the image (%s) does not share; "
        "restore with that program, or register the range by name with "
        "perm_register(addr, size, name)",
        path, e->name, registry_reader(), registry_writer());
  return perm__errorf(EINVAL,
                      "%s: the persistent global '%s' of %s is not in the "
                      "image, which %s wrote; programs sharing a heap file "
                      "must declare the same persistent globals (restore with "
                      "the program that wrote it, or add '%s' to it first)",
                      path, e->name, registry_reader(), registry_writer(),
                      e->name);
}

int perm__registry_restore(const void *block, size_t len, int apply,
                           const perm_registry_policy_t *policy,
                           perm_restore_counts_t *counts) {
  uint32_t nimg;
  if (registry_table(block, len, &nimg) == NULL)
    return perm__errorf(EINVAL, "the image has no registry block");
  pthread_mutex_lock(&registry.lock);
  if (policy != NULL)
    registry.policy = *policy;
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
      rc = registry_check_strict(&v[i], registry.policy.image);
      c.fresh++;
      perm__verbose(
          "global '%s' is new in this build: it keeps its initializer",
          v[i].name);
      continue;
    }
    rc = registry_check_one(&v[i], g, registry.policy.image);
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

/* A global registered after the restore: restore it now, or say why not. */
static void registry_late_restore(const perm_registry_entry_t *e) {
  const perm_image_global_t *g =
      registry_find(registry.image_block, registry.image_len, e->name);
  int rc;
  if (g == NULL) {
    rc = registry_check_strict(e, registry.policy.image);
    if (rc == 0) {
      registry.counts.fresh++;
      return;
    }
  } else {
    rc = registry_check_one(e, g, registry.policy.image);
  }
  if (rc != 0) {
    /* The global keeps its initializer; the program is told, or stopped. */
    if (registry.policy.startup && registry.startup_error[0] == '\0')
      snprintf(registry.startup_error, sizeof registry.startup_error, "%s",
               perm__error_message());
    else if (!registry.policy.startup)
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

void perm__registry_set_open(int open) {
  pthread_mutex_lock(&registry.lock);
  registry.detach_enabled = open;
  pthread_mutex_unlock(&registry.lock);
}

int perm__registry_end_startup(char *msg, size_t size) {
  pthread_mutex_lock(&registry.lock);
  registry.policy.startup = 0;
  int failed = registry.startup_error[0] != '\0';
  if (failed)
    snprintf(msg, size, "%s", registry.startup_error);
  registry.startup_error[0] = '\0';
  pthread_mutex_unlock(&registry.lock);
  return failed ? -EINVAL : 0;
}

void perm__registry_counts(perm_restore_counts_t *counts) {
  pthread_mutex_lock(&registry.lock);
  *counts = registry.counts;
  pthread_mutex_unlock(&registry.lock);
}
