/*
** info.c - perm info IMAGE [--json]: what an image holds, from its header
** and metadata blocks, without reading the region data ('perm check' does),
** and the chain of images it depends on when it is a delta.  With --binary
** PROG, whether PROG would restore it (binary.c) instead.
**
** The image goes through the runtime's validator (image_validate.c) with
** every problem reported: a damaged or malformed block does not hide the
** rest; its section is shown as unavailable (null in JSON), the reason goes
** to stderr, and the exit status is 1, so a script still learns that
** something is wrong.  Names from the image are escaped for the terminal.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tool.h"

typedef struct info_s {
  perm_chain_t chain;
  const perm_image_view_t *v; /* chain.views[0] */
  int failed;                 /* some problem was reported */
} info_t;

static void info_report(void *arg, const char *msg) {
  info_t *x = arg;
  x->failed = 1;
  tool_error("%s", msg);
}

/* A fixed-size header string, NUL-terminated or not, as a C string. */
static void info_field(char *dst, size_t size, const char *src, size_t n) {
  size_t len = strnlen(src, n);
  if (len >= size)
    len = size - 1;
  memcpy(dst, src, len);
  dst[len] = '\0';
}

/* Global names are never empty today; keep a line readable if one is. */
static const char *info_global_name(const info_t *x, uint32_t i) {
  const char *name =
      perm__image_name_at(x->v->registry_block, x->v->globals[i].name_offset);
  return name[0] != '\0' ? name : "(unnamed)";
}

static const char *info_kind(const perm_image_header_t *h) {
  return (h->flags & PERM_IMAGE_F_DELTA) ? "delta" : "full";
}

/*------------------------------------------------------------- text ---*/

static void info_text_chain(const info_t *x) {
  if (x->chain.n < 2)
    return;
  printf("\nchain: %" PRIu32 " images, newest first\n", x->chain.n);
  printf("  %10s  %-5s  %14s  %14s  %s\n", "GENERATION", "KIND", "DATA",
         "DIRTIED", "FILE");
  for (uint32_t i = 0; i < x->chain.n; i++) {
    const perm_image_view_t *v = &x->chain.views[i];
    if (v->img.path[0] == '\0')
      continue;
    const perm_image_header_t *h = &v->img.hdr;
    char name[8400];
    printf("  %10" PRIu64 "  %-5s  %14" PRIu64 "  %14" PRIu64 "  %s\n",
           h->generation, info_kind(h), h->data_bytes, h->bytes_dirtied,
           tool_printable(name, sizeof name, v->img.path));
  }
  printf("  region data of generation %" PRIu64 ": %" PRIu64
         " bytes in %zu pieces\n",
         x->v->img.hdr.generation, x->chain.map_bytes, x->chain.nmap);
}

static void info_text(const info_t *x) {
  const perm_image_view_t *v = x->v;
  const perm_image_header_t *h = &v->img.hdr;
  char a[64], b[64], c[64], rt[sizeof h->runtime_version + 1],
      je[sizeof h->jemalloc_version + 1], fl[128], name[8400];
  info_field(rt, sizeof rt, h->runtime_version, sizeof h->runtime_version);
  info_field(je, sizeof je, h->jemalloc_version, sizeof h->jemalloc_version);

  printf("image:        %s\n", tool_printable(name, sizeof name, v->img.path));
  printf("format:       version %" PRIu32 "\n", h->format_version);
  printf("generation:   %" PRIu64 "\n", h->generation);
  printf("kind:         %s", info_kind(h));
  if (h->flags & PERM_IMAGE_F_DELTA)
    printf(" of generation %" PRIu64 " in '%s', chain of %" PRIu64
           " images; %" PRIu64 " bytes dirtied",
           h->parent_generation,
           tool_printable(name, sizeof name, h->parent_name), h->chain_length,
           h->bytes_dirtied);
  printf("\n");
  tool_iso_time(a, sizeof a, h->time_ns);
  printf("time:         %s\n", a);
  tool_flag_words(fl, sizeof fl, h->flags, tool_header_flag_names, 2);
  printf("flags:        %s\n", fl);
  if (h->format_version >= 2)
    printf("heap id:      %016" PRIx64 "\n", h->heap_id);
  tool_human_bytes(a, sizeof a, h->region_capacity);
  tool_human_bytes(b, sizeof b, h->region_top);
  printf("region:       base 0x%" PRIx64 ", capacity %" PRIu64
         " (%s), top %" PRIu64 " (%s)\n",
         h->region_base, h->region_capacity, a, h->region_top, b);
  printf("page size:    %" PRIu32 "\n", h->page_size);
  printf("runtime:      PERM %s\n", tool_printable(name, sizeof name, rt));
  printf("jemalloc:     %s\n", tool_printable(name, sizeof name, je));
  tool_human_bytes(a, sizeof a, h->heap_allocated);
  tool_human_bytes(b, sizeof b, h->heap_active);
  printf("heap:         allocated %" PRIu64 " (%s), active %" PRIu64 " (%s)\n",
         h->heap_allocated, a, h->heap_active, b);
  tool_human_bytes(a, sizeof a, v->img.file_size);
  tool_human_bytes(b, sizeof b, v->img.file_blocks);
  printf("file:         %" PRIu64 " bytes (%s), %" PRIu64 " on disk (%s)\n",
         v->img.file_size, a, v->img.file_blocks, b);
  tool_human_bytes(c, sizeof c, h->data_bytes);
  if (v->extents != NULL)
    snprintf(b, sizeof b, "%" PRIu32, v->nextents);
  else
    snprintf(b, sizeof b, "unknown");
  printf("data:         %" PRIu64 " bytes (%s) in %s extents, "
         "at offset %" PRIu64 "\n",
         h->data_bytes, c, b, h->data_offset);

  printf("\nobjects:");
  if (v->objects == NULL) {
    printf(" unavailable\n");
  } else {
    printf(" %" PRIu32 "\n", v->nobjects);
    printf("  %-18s  %-12s  %-40s  %s\n", "LOAD ADDRESS", "FLAGS", "BUILD-ID",
           "NAME");
    for (uint32_t i = 0; i < v->nobjects; i++) {
      const perm_image_object_t *o = &v->objects[i];
      char id[2 * sizeof o->build_id + 1];
      tool_hex(id, sizeof id, o->build_id, o->build_id_len);
      tool_flag_words(fl, sizeof fl, o->flags, tool_object_flag_names, 3);
      printf("  0x%016" PRIx64 "  %-12s  %-40s  %s\n", o->load_addr, fl,
             id[0] ? id : "-",
             tool_printable(name, sizeof name,
                            perm__image_name_at(v->objects_block,
                                                o->name_offset)));
    }
  }

  printf("\nglobals:");
  if (v->globals == NULL) {
    printf(" unavailable\n");
  } else {
    printf(" %" PRIu32 "\n", v->nglobals);
    printf("  %-18s  %10s  %-18s  %-12s  %s\n", "ADDRESS", "SIZE", "TYPE HASH",
           "FLAGS", "NAME");
    for (uint32_t i = 0; i < v->nglobals; i++) {
      const perm_image_global_t *g = &v->globals[i];
      tool_flag_words(fl, sizeof fl, g->flags, tool_global_flag_names, 7);
      printf("  0x%016" PRIx64 "  %10" PRIu64 "  0x%016" PRIx64 "  %-12s  %s\n",
             g->addr, g->size, g->type_hash, fl,
             tool_printable(name, sizeof name, info_global_name(x, i)));
    }
  }

  printf("\nblocks: %" PRIu32 "\n", h->nblocks);
  printf("  %-20s  %12s  %12s  %-18s  %s\n", "TYPE", "OFFSET", "LENGTH",
         "CHECKSUM", "ADDRESS");
  for (uint32_t i = 0; i < h->nblocks; i++) {
    const perm_image_block_t *k = &h->blocks[i];
    if (k->type == PERM_BLOCK_STATE)
      snprintf(a, sizeof a, "state:%s", tool_state_name(k->flags));
    else
      snprintf(a, sizeof a, "%s", tool_block_type_name(k->type));
    if (k->type == PERM_BLOCK_STATE)
      snprintf(b, sizeof b, "0x%016" PRIx64, k->addr);
    else
      snprintf(b, sizeof b, "-");
    printf("  %-20s  %12" PRIu64 "  %12" PRIu64 "  0x%016" PRIx64 "  %s\n", a,
           k->offset, k->length, k->checksum, b);
  }
  info_text_chain(x);
}

/*------------------------------------------------------------- JSON ---*/

static void info_json_chain(tool_json_t *j, const info_t *x) {
  tool_json_begin_array(j, "chain");
  for (uint32_t i = 0; i < x->chain.n; i++) {
    const perm_image_view_t *v = &x->chain.views[i];
    if (v->img.path[0] == '\0')
      continue;
    const perm_image_header_t *h = &v->img.hdr;
    tool_json_begin_object(j, NULL);
    tool_json_string(j, "file", v->img.path);
    tool_json_u64(j, "generation", h->generation);
    tool_json_string(j, "kind", info_kind(h));
    tool_json_u64(j, "data_bytes", h->data_bytes);
    tool_json_u64(j, "bytes_dirtied", h->bytes_dirtied);
    tool_json_u64(j, "file_size", v->img.file_size);
    tool_json_end_object(j);
  }
  tool_json_end_array(j);
}

static void info_json(const info_t *x) {
  const perm_image_view_t *v = x->v;
  const perm_image_header_t *h = &v->img.hdr;
  char buf[128], rt[sizeof h->runtime_version + 1],
      je[sizeof h->jemalloc_version + 1];
  tool_json_t j;
  tool_json_init(&j, stdout);
  tool_json_begin_object(&j, NULL);
  tool_json_string(&j, "image", v->img.path);
  tool_json_u64(&j, "format_version", h->format_version);
  tool_json_u64(&j, "generation", h->generation);
  tool_json_string(&j, "kind", info_kind(h));
  tool_iso_time(buf, sizeof buf, h->time_ns);
  tool_json_string(&j, "time", buf);
  tool_json_flags(&j, "flags", h->flags, tool_header_flag_names, 2);
  tool_json_hex(&j, "heap_id", h->heap_id);
  if (h->flags & PERM_IMAGE_F_DELTA) {
    tool_json_begin_object(&j, "parent");
    tool_json_string(&j, "file", h->parent_name);
    tool_json_u64(&j, "generation", h->parent_generation);
    tool_json_hex(&j, "checksum", h->parent_checksum);
    tool_json_end_object(&j);
  } else {
    tool_json_null(&j, "parent");
  }
  tool_json_u64(&j, "chain_length", h->chain_length);
  tool_json_u64(&j, "bytes_dirtied", h->bytes_dirtied);
  tool_json_begin_object(&j, "region");
  tool_json_hex(&j, "base", h->region_base);
  tool_json_u64(&j, "capacity", h->region_capacity);
  tool_json_u64(&j, "top", h->region_top);
  tool_json_end_object(&j);
  tool_json_u64(&j, "page_size", h->page_size);
  info_field(rt, sizeof rt, h->runtime_version, sizeof h->runtime_version);
  info_field(je, sizeof je, h->jemalloc_version, sizeof h->jemalloc_version);
  tool_json_string(&j, "runtime_version", rt);
  tool_json_string(&j, "jemalloc_version", je);
  tool_json_begin_object(&j, "heap");
  tool_json_u64(&j, "allocated", h->heap_allocated);
  tool_json_u64(&j, "active", h->heap_active);
  tool_json_end_object(&j);
  tool_json_begin_object(&j, "file");
  tool_json_u64(&j, "size", v->img.file_size);
  tool_json_u64(&j, "allocated", v->img.file_blocks);
  tool_json_end_object(&j);
  tool_json_begin_object(&j, "data");
  tool_json_u64(&j, "offset", h->data_offset);
  tool_json_u64(&j, "bytes", h->data_bytes);
  if (v->extents != NULL)
    tool_json_u64(&j, "extents", v->nextents);
  else
    tool_json_null(&j, "extents");
  tool_json_end_object(&j);

  if (v->objects == NULL) {
    tool_json_null(&j, "objects");
  } else {
    tool_json_begin_array(&j, "objects");
    for (uint32_t i = 0; i < v->nobjects; i++) {
      const perm_image_object_t *o = &v->objects[i];
      tool_json_begin_object(&j, NULL);
      tool_json_string(&j, "name",
                       perm__image_name_at(v->objects_block, o->name_offset));
      tool_json_hex(&j, "load_address", o->load_addr);
      if (o->build_id_len == 0) {
        tool_json_null(&j, "build_id");
      } else {
        tool_hex(buf, sizeof buf, o->build_id, o->build_id_len);
        tool_json_string(&j, "build_id", buf);
      }
      tool_json_flags(&j, "flags", o->flags, tool_object_flag_names, 3);
      tool_json_end_object(&j);
    }
    tool_json_end_array(&j);
  }

  if (v->globals == NULL) {
    tool_json_null(&j, "globals");
  } else {
    tool_json_begin_array(&j, "globals");
    for (uint32_t i = 0; i < v->nglobals; i++) {
      const perm_image_global_t *g = &v->globals[i];
      tool_json_begin_object(&j, NULL);
      tool_json_string(&j, "name", perm__image_name_at(v->registry_block,
                                                        g->name_offset));
      tool_json_hex(&j, "address", g->addr);
      tool_json_u64(&j, "size", g->size);
      tool_json_u64(&j, "align", g->align);
      tool_json_hex(&j, "type_hash", g->type_hash);
      tool_json_flags(&j, "flags", g->flags, tool_global_flag_names, 7);
      tool_json_end_object(&j);
    }
    tool_json_end_array(&j);
  }

  /* Offsets and lengths let a script find (or, in tests, damage) a block. */
  tool_json_begin_array(&j, "blocks");
  for (uint32_t i = 0; i < h->nblocks; i++) {
    const perm_image_block_t *k = &h->blocks[i];
    tool_json_begin_object(&j, NULL);
    tool_json_string(&j, "type", tool_block_type_name(k->type));
    if (k->type == PERM_BLOCK_STATE) {
      tool_json_string(&j, "section", tool_state_name(k->flags));
      tool_json_hex(&j, "address", k->addr);
    }
    tool_json_u64(&j, "offset", k->offset);
    tool_json_u64(&j, "length", k->length);
    tool_json_hex(&j, "checksum", k->checksum);
    tool_json_end_object(&j);
  }
  tool_json_end_array(&j);
  info_json_chain(&j, x);
  tool_json_end_object(&j);
}

/* "IMAGE [--json] [--binary PROG]", options before or after the image. */
static int info_parse(const tool_command_t *cmd, int argc, char **argv,
                      int *json, const char **prog, const char **image) {
  const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                {"binary", required_argument, NULL, 'b'},
                                {"help", no_argument, NULL, 'h'},
                                {NULL, 0, NULL, 0}};
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'j':
      *json = 1;
      break;
    case 'b':
      *prog = optarg;
      break;
    case 'h':
      tool_command_usage(stdout, cmd);
      return TOOL_EXIT_OK;
    default:
      return optopt == 'b' ? tool_usage_error(cmd, "--binary needs a program")
                           : tool_usage_error(cmd, "unknown option '%s'",
                                              argv[optind - 1]);
    }
  }
  if (optind + 1 != argc)
    return tool_usage_error(cmd, optind == argc ? "no image given"
                                                : "one image at a time");
  *image = argv[optind];
  return -1;
}

int tool_info(const tool_command_t *cmd, int argc, char **argv) {
  int json = 0;
  const char *image, *prog = NULL;
  int rc = info_parse(cmd, argc, argv, &json, &prog, &image);
  if (rc >= 0)
    return rc;

  info_t x;
  memset(&x, 0, sizeof x);
  perm_image_hooks_t hooks = {.report = info_report, .report_arg = &x};
  rc = perm__chain_open(&x.chain, image, PERM_VALIDATE_ALL, &hooks);
  if (x.chain.n == 0 || x.chain.views[0].img.fd < 0) {
    /* Not even a header: nothing to show. */
    if (!x.failed)
      tool_error("%s", perm__error_message());
    perm__chain_close(&x.chain);
    return TOOL_EXIT_FAIL;
  }
  if (rc != 0 && !x.failed) {
    x.failed = 1; /* a broken chain link, not a problem of one image */
    tool_error("%s", perm__error_message());
  }
  x.v = &x.chain.views[0];
  int brc = -1;
  if (prog != NULL && (x.v->objects == NULL || x.v->globals == NULL))
    brc = TOOL_EXIT_FAIL; /* the comparison needs both; the reason is out */
  else if (prog != NULL)
    brc = tool_info_binary(prog, &x.v->img, x.v->objects, x.v->nobjects,
                           x.v->registry_block, x.v->globals, x.v->nglobals,
                           json);
  else if (json)
    info_json(&x);
  else
    info_text(&x);
  if (x.failed)
    tool_error("some of the image '%s' is unreadable; run 'perm check %s' "
               "for a full diagnosis",
               image, image);
  perm__chain_close(&x.chain);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    tool_error("cannot write the output: %s", strerror(errno));
    return TOOL_EXIT_FAIL;
  }
  if (brc >= 0)
    return brc;
  return x.failed ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
}
