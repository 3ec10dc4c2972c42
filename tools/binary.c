/*
** binary.c - perm info --binary PROG IMAGE: would PROG restore IMAGE?
**
** PROG's registry is read from its ELF file (elf_registry.c), never by
** running it, and matched against the image's the way the runtime matches
** them at perm_open (runtime/registry.c, objects.c):
**
**   match         same name, size and type hash: restored
**   new           only in PROG: keeps its initializer
**   missing       only in the image, inside PROG: dropped
**   type-changed  size or type hash differ: perm_open refuses the image
**   runtime       registered with perm_register(): not in the ELF file, it
**                 is checked when PROG registers it
**   other         only in the image, outside PROG: a library's, checked
**                 when that library registers it
**
** A program built without the plugin has one nameless range, its
** "persistent" section, restored only at the same address and size.  On
** top of the globals, the executable decides (runtime/restore.c): the one
** that wrote the image (same build-id) restores it; another build or
** program restores it with PERM_ALLOW_REBUILD=1, or with a shared open
** (mode letter s, mopen, PERM_FNAME) when every global it declares is in
** the image with its type; with the runtime linked statically, only the
** identical binary does.  Exit 0 when PROG restores the image one of these
** ways (the verdict says which), 1 when it does not.
*/
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../include/perm_registry.h"
#include "elf_registry.h"
#include "tool.h"

/* A row's status, in the order of the counts line. */
enum binary_status_e {
  BINARY_MATCH,
  BINARY_NEW,
  BINARY_MISSING,
  BINARY_CHANGED,
  BINARY_RUNTIME,
  BINARY_OTHER,
  BINARY_NSTATUS
};

static const char *const binary_text_names[BINARY_NSTATUS] = {
    "match", "new", "missing", "type-changed", "runtime", "other"};
static const char *const binary_json_names[BINARY_NSTATUS] = {
    "match", "new", "missing", "type_changed", "runtime", "other"};

/* How PROG may open the image. */
enum binary_verdict_e {
  BINARY_RESTORES,          /* the writer: always */
  BINARY_REBUILD_OR_SHARED, /* PERM_ALLOW_REBUILD=1, or mode letter s */
  BINARY_REBUILD_ONLY,      /* PERM_ALLOW_REBUILD=1: PROG has new globals */
  BINARY_REFUSED
};

static const char *const binary_verdict_names[] = {
    "restores", "restores_with_allow_rebuild_or_shared",
    "restores_with_allow_rebuild", "refused"};

/* One global of either side, or both. */
typedef struct binary_row_s {
  const char *name;
  enum binary_status_e status;
  const perm_image_global_t *img; /* NULL: only in PROG */
  uint64_t prog_size;             /* valid when in_prog */
  uint64_t prog_hash;
  int in_prog;
} binary_row_t;

/* The comparison, ready to print. */
typedef struct binary_s {
  const perm_image_t *img;
  const void *rblock;
  elf_program_t prog;
  const perm_image_object_t *main; /* the image's executable, or NULL */
  int same_build;
  binary_row_t *rows;
  uint32_t nrows;
  unsigned count[BINARY_NSTATUS];
  char raw_name[4200];   /* the raw section's registry name */
  char reasons[8][4600]; /* why PROG does not restore the image */
  unsigned nreasons;
} binary_t;

static void binary_reason(binary_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void binary_reason(binary_t *b, const char *fmt, ...) {
  if (b->nreasons == sizeof b->reasons / sizeof b->reasons[0])
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->reasons[b->nreasons++], sizeof b->reasons[0], fmt, ap);
  va_end(ap);
}

static const char *binary_img_name(const binary_t *b,
                                   const perm_image_global_t *g) {
  return perm__image_name_at(b->rblock, g->name_offset);
}

static int binary_row_cmp(const void *x, const void *y) {
  const binary_row_t *a = x, *c = y;
  return strcmp(a->name, c->name);
}

/* Where PROG's link-time address vaddr is in the process that wrote it. */
static uint64_t binary_runtime_addr(const binary_t *b, uint64_t vaddr) {
  return vaddr + (b->main != NULL ? b->main->load_addr : 0);
}

static void binary_compare(binary_t *b, const perm_image_global_t *g,
                           uint32_t ng) {
  const elf_program_t *p = &b->prog;
  char *used = calloc(ng ? ng : 1, 1); /* image entries given a row */
  b->rows = calloc((size_t)p->nglobals + ng + 1, sizeof *b->rows);
  if (used == NULL || b->rows == NULL) {
    free(used);
    binary_reason(b, "out of memory");
    return;
  }
  for (uint32_t i = 0; i < p->nglobals; i++) {
    const elf_global_t *e = &p->globals[i];
    binary_row_t *r = &b->rows[b->nrows++];
    *r = (binary_row_t){.name = e->name,
                        .status = BINARY_NEW,
                        .prog_size = e->size,
                        .prog_hash = e->type_hash,
                        .in_prog = 1};
    for (uint32_t k = 0; k < ng; k++) {
      if (used[k] || (g[k].flags & PERM_REG_RAW_SECTION) ||
          strcmp(binary_img_name(b, &g[k]), e->name) != 0)
        continue;
      used[k] = 1;
      r->img = &g[k];
      if (g[k].size == e->size && g[k].type_hash == e->type_hash) {
        r->status = BINARY_MATCH;
      } else {
        r->status = BINARY_CHANGED;
        binary_reason(b,
                      "the persistent global '%s' changed type: the image "
                      "holds %" PRIu64 " bytes (type hash 0x%016" PRIx64
                      "), '%s' has %" PRIu64 " bytes (type hash 0x%016" PRIx64
                      "); run the build that wrote the image, or rename the "
                      "variable so it starts fresh",
                      e->name, g[k].size, g[k].type_hash, p->path, e->size,
                      e->type_hash);
      }
      break;
    }
  }

  /*
  ** The raw section: named after the program's file, as the runtime names
  ** it (dladdr), and restored only at the same address with the same size.
  */
  uint64_t lo = binary_runtime_addr(b, p->span_lo);
  uint64_t hi = binary_runtime_addr(b, p->span_hi);
  if (p->has_raw) {
    const char *base =
        strrchr(p->path, '/') ? strrchr(p->path, '/') + 1 : p->path;
    snprintf(b->raw_name, sizeof b->raw_name, "[persistent section of %s]",
             base);
    uint64_t at = binary_runtime_addr(b, p->raw_addr);
    binary_row_t *r = &b->rows[b->nrows++];
    *r = (binary_row_t){.name = b->raw_name,
                        .status = BINARY_NEW,
                        .prog_size = p->raw_size,
                        .in_prog = 1};
    for (uint32_t k = 0; k < ng; k++) {
      if (used[k] || !(g[k].flags & PERM_REG_RAW_SECTION) ||
          strcmp(binary_img_name(b, &g[k]), b->raw_name) != 0)
        continue;
      used[k] = 1;
      r->img = &g[k];
      if (g[k].addr == at && g[k].size == p->raw_size) {
        r->status = BINARY_MATCH;
      } else {
        r->status = BINARY_CHANGED;
        binary_reason(b,
                      "the 'persistent' section was %" PRIu64
                      " bytes at 0x%" PRIx64 ", '%s' has %" PRIu64
                      " bytes at 0x%" PRIx64 "; a program built without the "
                      "PERM plugin restores only into the identical binary "
                      "(build with clang-19 -fplugin=libperm.so, or perm cc, "
                      "to restore globals by name)",
                      g[k].size, g[k].addr, p->path, p->raw_size, at);
      }
      break;
    }
  }

  for (uint32_t k = 0; k < ng; k++) {
    if (used[k])
      continue;
    binary_row_t *r = &b->rows[b->nrows++];
    *r = (binary_row_t){.name = binary_img_name(b, &g[k]), .img = &g[k]};
    if (g[k].flags & PERM_REG_RUNTIME)
      r->status = BINARY_RUNTIME;
    else if (g[k].addr >= lo && g[k].addr < hi)
      r->status = BINARY_MISSING;
    else
      r->status = BINARY_OTHER;
  }
  free(used);
  qsort(b->rows, b->nrows, sizeof *b->rows, binary_row_cmp);
  for (uint32_t i = 0; i < b->nrows; i++)
    b->count[b->rows[i].status]++;
}

static void binary_check_build(binary_t *b, const perm_image_object_t *o,
                               uint32_t no) {
  for (uint32_t i = 0; i < no && b->main == NULL; i++)
    if (o[i].flags & PERM_OBJECT_MAIN)
      b->main = &o[i];
  if (b->main == NULL) {
    binary_reason(b, "the image names no executable (its objects block has "
                     "no main entry)" TOOL_FIX_WRITER);
    return;
  }
  b->same_build =
      b->main->build_id_len == b->prog.build_id_len &&
      memcmp(b->main->build_id, b->prog.build_id, b->prog.build_id_len) == 0;
  if (!b->same_build && (b->main->flags & PERM_OBJECT_RUNTIME))
    binary_reason(b,
                  "'%s' is another build than the one that wrote the image, "
                  "and the PERM runtime is linked in statically, so only the "
                  "identical binary restores the image (link with the shared "
                  "libpermrt to restore rebuilt or other programs)",
                  b->prog.path);
}

static enum binary_verdict_e binary_verdict(const binary_t *b) {
  if (b->nreasons > 0)
    return BINARY_REFUSED;
  if (b->same_build)
    return BINARY_RESTORES;
  /* A shared open refuses a global the image does not hold. */
  return b->count[BINARY_NEW] == 0 ? BINARY_REBUILD_OR_SHARED
                                   : BINARY_REBUILD_ONLY;
}

/*------------------------------------------------------------- text ---*/

static void binary_hexid(char *buf, size_t size, const uint8_t *id,
                         uint32_t n) {
  tool_hex(buf, size, id, n);
  if (buf[0] == '\0')
    snprintf(buf, size, "none");
}

/*
** Names and paths, from the image or PROG's file, go through
** tool_printable() (as in perm info): a crafted name cannot drive the
** terminal or break the table.  The reasons quote names too.
*/
static void binary_text(const binary_t *b, const char *prog_arg) {
  const elf_program_t *p = &b->prog;
  char pid[96], iid[96], prog_path[8400], img_path[8400], name[8400];
  tool_printable(prog_path, sizeof prog_path, prog_arg);
  tool_printable(img_path, sizeof img_path, b->img->path);
  binary_hexid(pid, sizeof pid, p->build_id, p->build_id_len);
  if (b->main != NULL)
    binary_hexid(iid, sizeof iid, b->main->build_id, b->main->build_id_len);
  else
    snprintf(iid, sizeof iid, "unknown");

  printf("program:    %s (%s, build-id %s)\n", prog_path,
         p->pie ? "PIE" : "non-PIE", pid);
  if (p->has_registry)
    printf("registry:   %" PRIu32 " globals by name (built with the PERM "
           "plugin)\n",
           p->nglobals);
  if (p->has_raw)
    printf("registry:   built without the PERM plugin: its 'persistent' "
           "section (%" PRIu64 " bytes) is one nameless range, restored only "
           "into the identical binary\n",
           p->raw_size);
  if (!p->has_registry && !p->has_raw)
    printf("registry:   none: no perm_registry or persistent section (not "
           "compiled with perm.h and the plugin?)\n");
  printf("image:      %s (generation %" PRIu64 ", build-id %s)\n", img_path,
         b->img->hdr.generation, iid);
  printf("build:      %s\n",
         b->same_build ? "the same build" : "another build of the program");

  printf("\nglobals: %" PRIu32 "\n", b->nrows);
  printf("  %-12s  %10s  %-18s  %10s  %-18s  %s\n", "STATUS", "IMAGE SIZE",
         "IMAGE TYPE HASH", "PROG SIZE", "PROG TYPE HASH", "NAME");
  for (uint32_t i = 0; i < b->nrows; i++) {
    const binary_row_t *r = &b->rows[i];
    char isz[24] = "-", ih[24] = "-", psz[24] = "-", ph[24] = "-";
    if (r->img != NULL) {
      snprintf(isz, sizeof isz, "%" PRIu64, r->img->size);
      snprintf(ih, sizeof ih, "0x%016" PRIx64, r->img->type_hash);
    }
    if (r->in_prog) {
      snprintf(psz, sizeof psz, "%" PRIu64, r->prog_size);
      snprintf(ph, sizeof ph, "0x%016" PRIx64, r->prog_hash);
    }
    printf("  %-12s  %10s  %-18s  %10s  %-18s  %s\n",
           binary_text_names[r->status], isz, ih, psz, ph,
           r->name[0] ? tool_printable(name, sizeof name, r->name)
                      : "(unnamed)");
  }
  printf("\n");
  for (int s = 0; s < BINARY_NSTATUS; s++)
    printf("%s%s %u", s ? ", " : "", binary_text_names[s], b->count[s]);
  printf("\n");
  switch (binary_verdict(b)) {
  case BINARY_REFUSED:
    printf("verdict: '%s' does not restore '%s':\n", prog_path, img_path);
    for (unsigned i = 0; i < b->nreasons; i++)
      printf("  - %s\n", tool_printable(name, sizeof name, b->reasons[i]));
    break;
  case BINARY_RESTORES:
    printf("verdict: '%s' restores '%s'\n", prog_path, img_path);
    break;
  case BINARY_REBUILD_OR_SHARED:
    printf("verdict: '%s' restores '%s' with PERM_ALLOW_REBUILD=1 or a shared "
           "open (mode letter s, mopen, PERM_FNAME): it is another build or "
           "program, and every global it declares is in the image with its "
           "type (README.PERM, section 4, says what can break then)\n",
           prog_path, img_path);
    break;
  case BINARY_REBUILD_ONLY:
    printf("verdict: '%s' restores '%s' with PERM_ALLOW_REBUILD=1: it is "
           "another build or program, whose globals fit; a shared open (mode "
           "letter s, mopen, PERM_FNAME) refuses it, as %u of its globals are "
           "not in the image (README.PERM, section 4)\n",
           prog_path, img_path, b->count[BINARY_NEW]);
    break;
  }
}

/*------------------------------------------------------------- JSON ---*/

static void binary_json(const binary_t *b, const char *prog_path) {
  const elf_program_t *p = &b->prog;
  char buf[96];
  tool_json_t j;
  tool_json_init(&j, stdout);
  tool_json_begin_object(&j, NULL);
  tool_json_begin_object(&j, "program");
  tool_json_string(&j, "path", prog_path);
  tool_json_string(&j, "type", p->pie ? "pie" : "exec");
  if (p->build_id_len == 0) {
    tool_json_null(&j, "build_id");
  } else {
    tool_hex(buf, sizeof buf, p->build_id, p->build_id_len);
    tool_json_string(&j, "build_id", buf);
  }
  tool_json_string(&j, "registry",
                   p->has_registry && p->has_raw ? "plugin+raw"
                   : p->has_registry             ? "plugin"
                   : p->has_raw                  ? "raw"
                                                 : "none");
  tool_json_end_object(&j);
  tool_json_begin_object(&j, "image");
  tool_json_string(&j, "path", b->img->path);
  tool_json_u64(&j, "generation", b->img->hdr.generation);
  if (b->main == NULL || b->main->build_id_len == 0) {
    tool_json_null(&j, "build_id");
  } else {
    tool_hex(buf, sizeof buf, b->main->build_id, b->main->build_id_len);
    tool_json_string(&j, "build_id", buf);
  }
  tool_json_end_object(&j);
  tool_json_string(&j, "build", b->same_build ? "same" : "other");
  tool_json_begin_array(&j, "globals");
  for (uint32_t i = 0; i < b->nrows; i++) {
    const binary_row_t *r = &b->rows[i];
    tool_json_begin_object(&j, NULL);
    tool_json_string(&j, "name", r->name);
    tool_json_string(&j, "status", binary_json_names[r->status]);
    if (r->img == NULL) {
      tool_json_null(&j, "image");
    } else {
      tool_json_begin_object(&j, "image");
      tool_json_hex(&j, "address", r->img->addr);
      tool_json_u64(&j, "size", r->img->size);
      tool_json_hex(&j, "type_hash", r->img->type_hash);
      tool_json_flags(&j, "flags", r->img->flags, tool_global_flag_names, 7);
      tool_json_end_object(&j);
    }
    if (!r->in_prog) {
      tool_json_null(&j, "program");
    } else {
      tool_json_begin_object(&j, "program");
      tool_json_u64(&j, "size", r->prog_size);
      tool_json_hex(&j, "type_hash", r->prog_hash);
      tool_json_end_object(&j);
    }
    tool_json_end_object(&j);
  }
  tool_json_end_array(&j);
  tool_json_begin_object(&j, "counts");
  for (int s = 0; s < BINARY_NSTATUS; s++)
    tool_json_u64(&j, binary_json_names[s], b->count[s]);
  tool_json_end_object(&j);
  tool_json_string(&j, "verdict", binary_verdict_names[binary_verdict(b)]);
  tool_json_begin_array(&j, "reasons");
  for (unsigned i = 0; i < b->nreasons; i++)
    tool_json_string(&j, NULL, b->reasons[i]);
  tool_json_end_array(&j);
  tool_json_end_object(&j);
}

int tool_info_binary(const char *prog, const perm_image_t *img,
                     const perm_image_object_t *objects, uint32_t nobjects,
                     const void *rblock, const perm_image_global_t *globals,
                     uint32_t nglobals, int json) {
  binary_t b;
  memset(&b, 0, sizeof b);
  b.img = img;
  b.rblock = rblock;
  if (elf_registry_read(&b.prog, prog) != 0)
    return TOOL_EXIT_FAIL;
  binary_check_build(&b, objects, nobjects);
  binary_compare(&b, globals, nglobals);
  if (json)
    binary_json(&b, prog);
  else
    binary_text(&b, prog);
  free(b.rows);
  elf_registry_free(&b.prog);
  return b.nreasons > 0 ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
}
