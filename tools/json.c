/*
** json.c - the streaming JSON writer of tool.h.
**
** Strings from an image (object paths, global names) are bytes, not
** necessarily UTF-8; JSON must be UTF-8, so a byte that does not start a
** well-formed sequence is written as U+FFFD instead of producing output
** that json.tool or jq would reject.
*/
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>

#include "tool.h"

void tool_json_init(tool_json_t *j, FILE *out) {
  j->out = out;
  j->depth = 0;
  j->need_comma = 0;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629), or 0. */
static size_t json_utf8_len(const unsigned char *s) {
  unsigned char c = s[0];
  size_t n;
  uint32_t cp;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
      return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

static void json_quoted(FILE *out, const char *str) {
  const unsigned char *s = (const unsigned char *)str;
  fputc('"', out);
  while (*s != '\0') {
    unsigned char c = *s;
    if (c == '"' || c == '\\') {
      fputc('\\', out);
      fputc(c, out);
      s++;
    } else if (c < 0x20 || c == 0x7f) {
      switch (c) {
      case '\n':
        fputs("\\n", out);
        break;
      case '\t':
        fputs("\\t", out);
        break;
      case '\r':
        fputs("\\r", out);
        break;
      default:
        fprintf(out, "\\u%04x", c);
      }
      s++;
    } else {
      size_t n = json_utf8_len(s);
      if (n == 0) {
        fputs("\\ufffd", out);
        s++;
      } else {
        fwrite(s, 1, n, out);
        s += n;
      }
    }
  }
  fputc('"', out);
}

/* Comma, newline and indentation before a value, then its key if any. */
static void json_lead(tool_json_t *j, const char *key) {
  if (j->depth > 0) {
    fputs(j->need_comma ? ",\n" : "\n", j->out);
    for (int i = 0; i < j->depth; i++)
      fputs("  ", j->out);
  }
  if (key != NULL) {
    json_quoted(j->out, key);
    fputs(": ", j->out);
  }
  j->need_comma = 1;
}

static void json_open(tool_json_t *j, const char *key, char c) {
  json_lead(j, key);
  fputc(c, j->out);
  j->depth++;
  j->need_comma = 0;
}

static void json_close(tool_json_t *j, char c) {
  int empty = !j->need_comma;
  j->depth--;
  if (!empty) {
    fputc('\n', j->out);
    for (int i = 0; i < j->depth; i++)
      fputs("  ", j->out);
  }
  fputc(c, j->out);
  j->need_comma = 1;
  if (j->depth == 0)
    fputc('\n', j->out);
}

void tool_json_begin_object(tool_json_t *j, const char *key) {
  json_open(j, key, '{');
}
void tool_json_end_object(tool_json_t *j) { json_close(j, '}'); }
void tool_json_begin_array(tool_json_t *j, const char *key) {
  json_open(j, key, '[');
}
void tool_json_end_array(tool_json_t *j) { json_close(j, ']'); }

void tool_json_string(tool_json_t *j, const char *key, const char *s) {
  json_lead(j, key);
  json_quoted(j->out, s);
}

void tool_json_u64(tool_json_t *j, const char *key, uint64_t v) {
  json_lead(j, key);
  fprintf(j->out, "%" PRIu64, v);
}

void tool_json_hex(tool_json_t *j, const char *key, uint64_t v) {
  json_lead(j, key);
  fprintf(j->out, "\"0x%" PRIx64 "\"", v);
}

void tool_json_bool(tool_json_t *j, const char *key, int v) {
  json_lead(j, key);
  fputs(v ? "true" : "false", j->out);
}

void tool_json_null(tool_json_t *j, const char *key) {
  json_lead(j, key);
  fputs("null", j->out);
}

/* On one line: a short list of words reads better inline. */
void tool_json_flags(tool_json_t *j, const char *key, uint32_t flags,
                     const char *const names[], unsigned nnames) {
  json_lead(j, key);
  fputc('[', j->out);
  const char *sep = "";
  for (unsigned i = 0; i < nnames && i < 32; i++) {
    if (flags & (1u << i)) {
      fputs(sep, j->out);
      json_quoted(j->out, names[i]);
      sep = ", ";
    }
  }
  uint32_t unknown = nnames >= 32 ? 0 : flags & ~((1u << nnames) - 1u);
  if (unknown != 0)
    fprintf(j->out, "%s\"0x%" PRIx32 "\"", sep, unknown);
  fputc(']', j->out);
}
