/*
** config.c - PERM_* environment variables.
*/
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "image_format.h"
#include "region.h"

int perm__parse_size(const char *s, uint64_t *out) {
  if (s == NULL || *s == '\0' || *s == '-' || isspace((unsigned char)*s))
    return -EINVAL;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno != 0 || end == s)
    return -EINVAL;
  unsigned shift = 0;
  switch (toupper((unsigned char)*end)) {
  case '\0':
    break;
  case 'K':
    shift = 10;
    end++;
    break;
  case 'M':
    shift = 20;
    end++;
    break;
  case 'G':
    shift = 30;
    end++;
    break;
  case 'T':
    shift = 40;
    end++;
    break;
  default:
    return -EINVAL;
  }
  if (*end == 'B' || *end == 'b')
    end++;
  if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
    return -EINVAL;
  *out = (uint64_t)v << shift;
  return 0;
}

int perm__parse_bool(const char *name, const char *s, int *out) {
  if (s == NULL) {
    *out = 0;
    return 0;
  }
  if (!strcmp(s, "1") || !strcasecmp(s, "yes") || !strcasecmp(s, "true") ||
      !strcasecmp(s, "on")) {
    *out = 1;
    return 0;
  }
  if (!strcmp(s, "0") || !strcasecmp(s, "no") || !strcasecmp(s, "false") ||
      !strcasecmp(s, "off") || !strcmp(s, "")) {
    *out = 0;
    return 0;
  }
  return perm__errorf(EINVAL, "%s='%s' is not a boolean: use 1 or 0", name, s);
}

const char *perm__getenv(const char *name) { return secure_getenv(name); }

int perm__config_gate(int *publish) {
  const char *v = perm__getenv("PERM_GATE");
  *publish = 0;
  if (v == NULL || *v == '\0' || !strcmp(v, "signal"))
    return 0;
  if (!strcmp(v, "publish")) {
    *publish = 1;
    return 0;
  }
  return perm__errorf(EINVAL, "PERM_GATE='%s': use signal or publish", v);
}

int perm__config_load(perm_config_t *c) {
  c->address = PERM_REGION_DEFAULT_BASE;
  c->size = PERM_REGION_DEFAULT_CAPACITY;
  c->verify_full = 1;
  c->eager = 0;
  c->allow_rebuild = 0;
  c->trust_image = 0;
  c->readback = 0;
  c->collapse = PERM_COLLAPSE_OFF;
  c->incremental = -1;
  c->chain_max = PERM_CHAIN_MAX_DEFAULT;
  c->chain_ratio = PERM_CHAIN_RATIO_DEFAULT;
  const char *v;
  if ((v = perm__getenv("PERM_ADDRESS")) != NULL && *v) {
    if (perm__parse_size(v, &c->address) != 0 || c->address % PERM_REGION_HUGE)
      return perm__errorf(EINVAL,
                          "PERM_ADDRESS='%s' is not a 2 MiB-aligned address "
                          "(example: 0x7e0000000000)",
                          v);
  }
  if ((v = perm__getenv("PERM_SIZE")) != NULL && *v) {
    if (perm__parse_size(v, &c->size) != 0 || c->size < (4ull << 20))
      return perm__errorf(EINVAL,
                          "PERM_SIZE='%s' is not a size of at least 4M "
                          "(examples: 1G, 64G, 512M)",
                          v);
    c->size = (c->size + PERM_REGION_HUGE - 1) & ~(PERM_REGION_HUGE - 1);
  }
  if ((v = perm__getenv("PERM_VERIFY")) != NULL && *v) {
    if (!strcmp(v, "full"))
      c->verify_full = 1;
    else if (!strcmp(v, "metadata"))
      c->verify_full = 0;
    else
      return perm__errorf(EINVAL, "PERM_VERIFY='%s': use full or metadata", v);
  }
  if ((v = perm__getenv("PERM_RESTORE")) != NULL && *v) {
    if (!strcmp(v, "eager"))
      c->eager = 1;
    else if (!strcmp(v, "lazy"))
      c->eager = 0;
    else
      return perm__errorf(EINVAL, "PERM_RESTORE='%s': use lazy or eager", v);
  }
  int rc = perm__parse_bool("PERM_ALLOW_REBUILD",
                            perm__getenv("PERM_ALLOW_REBUILD"),
                            &c->allow_rebuild);
  if (rc == 0)
    rc = perm__parse_bool("PERM_TRUST_IMAGE", perm__getenv("PERM_TRUST_IMAGE"),
                          &c->trust_image);
  if (rc == 0)
    rc = perm__parse_bool("PERM_READBACK", perm__getenv("PERM_READBACK"),
                          &c->readback);
  if (rc == 0 && (v = perm__getenv("PERM_COLLAPSE")) != NULL && *v) {
    if (!strcmp(v, "sync"))
      c->collapse = PERM_COLLAPSE_SYNC;
    else if (!strcmp(v, "background"))
      c->collapse = PERM_COLLAPSE_BACKGROUND;
    else if (perm__parse_bool("PERM_COLLAPSE", v, &c->collapse) != 0)
      return perm__errorf(EINVAL,
                          "PERM_COLLAPSE='%s': use 1 (or background), sync "
                          "or 0",
                          v);
  }
  if (rc == 0 && (v = perm__getenv("PERM_INCREMENTAL")) != NULL && *v)
    rc = perm__parse_bool("PERM_INCREMENTAL", v, &c->incremental);
  if (rc == 0 && (v = perm__getenv("PERM_CHAIN_MAX")) != NULL && *v) {
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < 1 || n > PERM_IMAGE_MAX_CHAIN)
      return perm__errorf(EINVAL,
                          "PERM_CHAIN_MAX='%s' is not a number of images from "
                          "1 to %u (1: every checkpoint writes a full image)",
                          v, PERM_IMAGE_MAX_CHAIN);
    c->chain_max = n;
  }
  if (rc == 0 && (v = perm__getenv("PERM_CHAIN_RATIO")) != NULL && *v) {
    char *end;
    double r = strtod(v, &end);
    if (*end != '\0' || !(r > 0) || r > 1000)
      return perm__errorf(EINVAL,
                          "PERM_CHAIN_RATIO='%s' is not a ratio above 0 "
                          "(example: 0.5: fold the chain once its deltas hold "
                          "half as much data as its full image)",
                          v);
    c->chain_ratio = r;
  }
  if (rc == 0)
    rc = perm__config_gate(&c->gate_publish);
  return rc;
}
