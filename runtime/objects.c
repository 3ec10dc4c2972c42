/*
** objects.c - build-ids and load addresses of the loaded objects.
*/
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <unistd.h>

#include "image_format.h"
#include "objects.h"

typedef struct objects_list_s {
  perm_image_object_t *v;
  char **names;
  size_t n, cap;
  int failed;
} objects_list_t;

static void objects_build_id(struct dl_phdr_info *info,
                             perm_image_object_t *o) {
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_NOTE)
      continue;
    const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
    const char *end = p + ph->p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
      const char *name = p + sizeof *nh;
      const char *desc = name + ((nh->n_namesz + 3) & ~3u);
      if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
          memcmp(name, "GNU", 4) == 0 && nh->n_descsz <= sizeof o->build_id) {
        memcpy(o->build_id, desc, nh->n_descsz);
        o->build_id_len = nh->n_descsz;
        return;
      }
      p = desc + ((nh->n_descsz + 3) & ~3u);
    }
  }
}

static int objects_contains(struct dl_phdr_info *info, const void *addr) {
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && (uintptr_t)addr >= lo &&
        (uintptr_t)addr < lo + ph->p_memsz)
      return 1;
  }
  return 0;
}

static int objects_visit(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  objects_list_t *l = arg;
  if (l->n == l->cap) {
    size_t ncap = l->cap ? l->cap * 2 : 32;
    void *v = perm__trealloc(l->v, ncap * sizeof *l->v);
    void *nm = v ? perm__trealloc(l->names, ncap * sizeof *l->names) : NULL;
    if (v == NULL || nm == NULL) {
      if (v)
        l->v = v;
      l->failed = 1;
      return 1;
    }
    l->v = v;
    l->names = nm;
    l->cap = ncap;
  }
  perm_image_object_t *o = &l->v[l->n];
  memset(o, 0, sizeof *o);
  o->load_addr = info->dlpi_addr;
  const char *name = info->dlpi_name ? info->dlpi_name : "";
  char exe[4096];
  if (l->n == 0) {
    o->flags |= PERM_OBJECT_MAIN;
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[k > 0 ? k : 0] = '\0';
    name = exe;
  }
  if (strstr(name, "linux-vdso") != NULL || strstr(name, "linux-gate") != NULL)
    o->flags |= PERM_OBJECT_VDSO;
  if (objects_contains(info, (const void *)objects_visit))
    o->flags |= PERM_OBJECT_RUNTIME;
  objects_build_id(info, o);
  l->names[l->n] = perm__tstrdup(name);
  if (l->names[l->n] == NULL) {
    l->failed = 1;
    return 1;
  }
  l->n++;
  return 0;
}

static void objects_free(objects_list_t *l) {
  for (size_t i = 0; i < l->n; i++)
    perm__tfree(l->names[i]);
  perm__tfree(l->names);
  perm__tfree(l->v);
}

int perm__objects_serialize(void **out, size_t *len) {
  objects_list_t l = {0};
  dl_iterate_phdr(objects_visit, &l);
  if (l.failed) {
    objects_free(&l);
    return perm__errorf(ENOMEM, "out of memory listing the loaded objects");
  }
  size_t names = 0;
  for (size_t i = 0; i < l.n; i++)
    names += strlen(l.names[i]) + 1;
  size_t head = sizeof(perm_image_table_t) + l.n * sizeof(perm_image_object_t);
  char *buf = perm__tcalloc(1, head + names);
  if (buf == NULL) {
    objects_free(&l);
    return perm__errorf(ENOMEM, "out of memory listing the loaded objects");
  }
  perm_image_table_t *t = (perm_image_table_t *)buf;
  t->count = (uint32_t)l.n;
  t->entry_size = sizeof(perm_image_object_t);
  perm_image_object_t *o = (perm_image_object_t *)(buf + sizeof *t);
  size_t off = head;
  for (size_t i = 0; i < l.n; i++) {
    o[i] = l.v[i];
    o[i].name_offset = off;
    size_t nl = strlen(l.names[i]) + 1;
    memcpy(buf + off, l.names[i], nl);
    off += nl;
  }
  objects_free(&l);
  *out = buf;
  *len = head + names;
  return 0;
}

static void hex(const uint8_t *b, uint32_t n, char *out) {
  for (uint32_t i = 0; i < n; i++)
    sprintf(out + 2 * i, "%02x", b[i]);
  out[2 * n] = '\0';
  if (n == 0)
    strcpy(out, "(none)");
}

static const char *aslr_hint(void) {
  if (personality(0xffffffff) & ADDR_NO_RANDOMIZE)
    return "";
  return " (address randomisation is on in this process: PERM re-executes "
         "programs with it off unless PERM_NO_REEXEC is set; use 'perm run' "
         "or unset PERM_NO_REEXEC)";
}

/* "/usr/bin/prog (build-id 1234...)" */
static void objects_describe(char *buf, size_t size, const char *name,
                             const perm_image_object_t *o) {
  char id[2 * sizeof o->build_id + 1];
  hex(o->build_id, o->build_id_len, id);
  snprintf(buf, size, "%s (build-id %s)", name, id);
}

int perm__objects_check(const void *block, size_t len, const char *path,
                        perm_objects_verdict_t *verdict) {
  memset(verdict, 0, sizeof *verdict);
  (void)len; /* bounds, names and build-ids: image_validate.c checked them */
  const perm_image_table_t *t = block;
  const perm_image_object_t *img = (const perm_image_object_t *)(t + 1);
  objects_list_t l = {0};
  dl_iterate_phdr(objects_visit, &l);
  if (l.failed) {
    objects_free(&l);
    return perm__errorf(ENOMEM, "out of memory listing the loaded objects");
  }
  int rc = 0;
  for (uint32_t i = 0; i < t->count && rc == 0; i++) {
    const perm_image_object_t *o = &img[i];
    const char *oname = (const char *)block + o->name_offset;
    if (o->flags & PERM_OBJECT_VDSO)
      continue;
    const perm_image_object_t *cur = NULL;
    const char *cname = NULL;
    for (size_t j = 0; j < l.n && cur == NULL; j++) {
      int same = (o->flags & PERM_OBJECT_MAIN)
                     ? (l.v[j].flags & PERM_OBJECT_MAIN)
                 : (o->flags & PERM_OBJECT_RUNTIME)
                     ? (l.v[j].flags & PERM_OBJECT_RUNTIME)
                     : strcmp(l.names[j], oname) == 0;
      if (same) {
        cur = &l.v[j];
        cname = l.names[j];
      }
    }
    if (cur == NULL)
      continue; /* not loaded (yet): checked if ever, by address of its data */
    char a[81], b[81];
    hex(o->build_id, o->build_id_len, a);
    hex(cur->build_id, cur->build_id_len, b);
    int rebuilt = o->build_id_len != cur->build_id_len ||
                  memcmp(o->build_id, cur->build_id, o->build_id_len) != 0;
    if ((o->flags & PERM_OBJECT_MAIN) && !(o->flags & PERM_OBJECT_RUNTIME)) {
      objects_describe(verdict->writer, sizeof verdict->writer, oname, o);
      objects_describe(verdict->reader, sizeof verdict->reader, cname, cur);
      if (rebuilt)
        verdict->main = strcmp(oname, cname) == 0 ? PERM_MAIN_REBUILT
                                                  : PERM_MAIN_OTHER;
      if (rebuilt)
        continue; /* restore judges, once it knows the globals */
    }
    if (rebuilt) {
      char w[600], r[600];
      objects_describe(w, sizeof w, oname, o);
      objects_describe(r, sizeof r, cname, cur);
      if (o->flags & PERM_OBJECT_MAIN)
        rc = perm__errorf(EINVAL,
                          "the image '%s' was written by %s, this program is "
                          "%s; both have the PERM runtime linked in "
                          "statically, so only the identical binary restores "
                          "the image (link with the shared libpermrt to "
                          "restore rebuilt or other programs)",
                          path, w, r);
      else
        rc = perm__errorf(EINVAL,
                          "the image '%s' needs %s, but this process has %s; "
                          "restore with the %s that wrote it",
                          path, w, r,
                          (o->flags & PERM_OBJECT_RUNTIME) ? "PERM runtime"
                                                           : "library");
    } else if (o->load_addr != cur->load_addr) {
      rc = perm__errorf(EINVAL,
                        "the image '%s' needs %s at 0x%" PRIx64 ", but it is "
                        "loaded at 0x%" PRIx64 " in this process; heap "
                        "pointers into it would be wrong%s",
                        path, cname, o->load_addr, cur->load_addr, aslr_hint());
    }
  }
  objects_free(&l);
  return rc;
}
