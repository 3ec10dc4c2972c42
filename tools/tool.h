/*
** tool.h - what the perm command's files share: the subcommand table entry,
** exit codes, messages, the metadata-table parsers and a JSON emitter.
**
** The tool reads images through runtime/image_read.c (the permimage
** library) and never links the live runtime: inspecting an image must not
** reserve a region or replace malloc.
*/
#ifndef PERM_TOOL_H
#define PERM_TOOL_H

#include <stdint.h>
#include <stdio.h>

#include "image.h"

/* Exit codes, the same for every subcommand. */
#define TOOL_EXIT_OK 0    /* done; for check: the image is sound */
#define TOOL_EXIT_FAIL 1  /* the image is unusable, or could not be read */
#define TOOL_EXIT_USAGE 2 /* bad command line */

/*
** The fix for metadata whose checksum holds but whose content breaks the
** format: the disk did not damage it, so the runtime that wrote it did.
** (Checks that can blame the disk add where the previous image is.)
*/
#define TOOL_FIX_WRITER                                                        \
  "; the runtime that wrote it is faulty (please report this)"

/* One subcommand: perm NAME ARGS. */
typedef struct tool_command_s {
  const char *name;
  int (*run)(const struct tool_command_s *cmd, int argc, char **argv);
  const char *args;    /* synopsis after the name, for usage lines */
  const char *summary; /* one line for 'perm help' */
  const char *options; /* option lines for 'perm help NAME', or NULL */
} tool_command_t;

int tool_info(const tool_command_t *cmd, int argc, char **argv);
int tool_check(const tool_command_t *cmd, int argc, char **argv);
int tool_compact(const tool_command_t *cmd, int argc, char **argv);
int tool_diff(const tool_command_t *cmd, int argc, char **argv);
int tool_run(const tool_command_t *cmd, int argc, char **argv);
int tool_cc(const tool_command_t *cmd, int argc, char **argv);

/*------------------------------------------------------------ perm.c ---*/

/* "perm NAME: " + message + newline on stderr. */
void tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the message and the command's usage on stderr; TOOL_EXIT_USAGE. */
int tool_usage_error(const tool_command_t *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tool_command_usage(FILE *out, const tool_command_t *cmd);
/*
** Parses "[--FLAG] [--help] IMAGE": sets *set when --FLAG is given and
** *image.  Returns -1 to go on, else the exit code to return.
*/
int tool_parse_flag_image(const tool_command_t *cmd, int argc, char **argv,
                          const char *flag, int *set, const char **image);
/* Short names for on-disk codes, for tables and JSON. */
const char *tool_block_type_name(uint32_t type);
const char *tool_state_name(uint32_t code);
/* Writes "a,b,c" (or "-" when no bit is set) for flags; unknown bits as hex. */
void tool_flag_words(char *buf, size_t size, uint32_t flags,
                     const char *const names[], unsigned nnames);
extern const char *const tool_object_flag_names[3];
extern const char *const tool_global_flag_names[7];
extern const char *const tool_header_flag_names[2];
/* "17.3 MiB" */
void tool_human_bytes(char *buf, size_t size, uint64_t n);
/* ISO-8601 UTC with nanoseconds: 2025-01-31T12:00:00.123456789Z */
void tool_iso_time(char *buf, size_t size, uint64_t time_ns);
/* Lowercase hex of a build-id, "" when it has none. */
void tool_hex(char *buf, size_t size, const uint8_t *bytes, uint32_t n);

/*---------------------------------------------------------- binary.c ---*/

/*
** perm info --binary: prints whether the program prog restores the image
** whose objects and registry blocks were parsed; returns the exit code.
*/
int tool_info_binary(const char *prog, const perm_image_t *img,
                     const perm_image_object_t *objects, uint32_t nobjects,
                     const void *rblock, const perm_image_global_t *globals,
                     uint32_t nglobals, int json);

/*-------------------------------------------------------- progress.c ---*/

/*
** A progress line for long verifications: bytes done, percent, speed,
** redrawn at most ten times a second, only when stdout is a terminal.
*/
typedef struct tool_progress_s {
  int enabled;        /* stdout is a terminal and output was not refused */
  int shown;          /* a line is on the screen */
  const char *label;  /* the image */
  uint64_t start_ns;  /* CLOCK_MONOTONIC at init */
  uint64_t last_ns;   /* last redraw */
} tool_progress_t;

void tool_progress_init(tool_progress_t *p, int wanted, const char *label);
void tool_progress_update(tool_progress_t *p, uint64_t done, uint64_t total);
/* Erases the line, before other output and at the end. */
void tool_progress_clear(tool_progress_t *p);

/*
** A name from an image for a terminal: bytes below 0x20, 0x7f and
** backslashes are written as \xNN (\\), so a crafted name cannot drive
** the terminal.  Returns buf.
*/
const char *tool_printable(char *buf, size_t size, const char *s);

/*------------------------------------------------------------ json.c ---*/

/*
** A streaming JSON writer, pretty-printed with two-space indentation.
** Hand-written because the output is small and fixed; Debian's JSON
** libraries (json-c, jansson) would build a tree only to print it.
** Addresses, hashes and checksums are written as "0x..." strings because
** JSON numbers above 2^53 lose precision in many readers.
*/
typedef struct tool_json_s {
  FILE *out;
  int depth;
  int need_comma; /* a value was written at this depth */
} tool_json_t;

void tool_json_init(tool_json_t *j, FILE *out);
/* key is NULL inside arrays and for the top-level value. */
void tool_json_begin_object(tool_json_t *j, const char *key);
void tool_json_end_object(tool_json_t *j);
void tool_json_begin_array(tool_json_t *j, const char *key);
void tool_json_end_array(tool_json_t *j);
void tool_json_string(tool_json_t *j, const char *key, const char *s);
void tool_json_u64(tool_json_t *j, const char *key, uint64_t v);
void tool_json_hex(tool_json_t *j, const char *key, uint64_t v);
void tool_json_null(tool_json_t *j, const char *key);
void tool_json_bool(tool_json_t *j, const char *key, int v);
/* An array of the words tool_flag_words() would write. */
void tool_json_flags(tool_json_t *j, const char *key, uint32_t flags,
                     const char *const names[], unsigned nnames);

#endif /* PERM_TOOL_H */
