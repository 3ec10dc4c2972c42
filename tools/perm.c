/*
** perm.c - the perm command: global options, the subcommand table, and the
** helpers every subcommand uses to print.
**
**   perm [--help | --version] COMMAND [ARGS]
**
** Exit codes (tool.h): 0 done, 1 the image is bad or unreadable, 2 usage.
*/
#define _GNU_SOURCE
#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tool.h"

/*
** The subcommands.  DESIGN.md plans 'run', 'diff' and 'compact': each will
** be one file with one entry here, so help and dispatch pick it up.
*/
static const tool_command_t tool_commands[] = {
    {"info", tool_info, "IMAGE [--json] [--binary PROG]",
     "show an image's header, loaded objects, globals and blocks",
     "  --json          print one JSON object instead of text\n"
     "  --binary PROG   compare PROG's persistent globals (read from its ELF\n"
     "                  file, not run) with the image's: exit 0 when PROG\n"
     "                  restores the image, 1 when it does not\n"},
    {"check", tool_check, "IMAGE [--quiet | --json]",
     "verify an image and the images it depends on, offline",
     "  --quiet   print nothing; the exit status says it all\n"
     "  --json    print one JSON object (README.PERM, section 5)\n"},
    {"diff", tool_diff, "A B [--json]",
     "show what differs between two images: globals, heap, pages",
     "  --json    print one JSON object (README.PERM, section 5)\n"
     "Exit status as diff(1): 0 identical, 1 different, 2 an error.\n"},
    {"compact", tool_compact, "IMAGE [--quiet]",
     "fold a chain of incremental images into one full image",
     "  --quiet   print nothing; the exit status says it all\n"
     "The chain is verified first, under the image's lock; the new image\n"
     "replaces IMAGE atomically and the chain stays as IMAGE.prev.\n"},
    {"run", tool_run, "[--image FILE] [--mode MODE] -- PROGRAM [ARGS]",
     "run an unmodified program with a persistent heap and globals",
     "  --image FILE     the image (default: PROGRAM's name + .img, here)\n"
     "  --mode MODE      perm_open mode (default a+: resume when it exists)\n"
     "  --preload LIB    libperm-preload.so (default: ../lib beside perm)\n"},
    {"cc", tool_cc, "[--show] CLANG-ARGS...",
     "compile and link C with clang-19, the plugin and the runtime",
     "  --show    print the clang-19 command instead of running it\n"
     "Every other argument goes to clang-19; -c, -S, -E, -M, -MM,\n"
     "-fsyntax-only and --precompile leave out the link flags.  Also\n"
     "installed as 'permcc'.\n"},
    {"c++", tool_cc, "[--show] CLANG-ARGS...",
     "compile and link C++ with clang++-19, the plugin and the runtime",
     "  --show    print the clang++-19 command instead of running it\n"
     "As 'perm cc'.  Also installed as 'perm++'.\n"},
};
#define TOOL_NCOMMANDS (sizeof tool_commands / sizeof tool_commands[0])

static void tool_usage(FILE *out) {
  fprintf(
      out,
      "usage: perm [--help | --version] COMMAND [ARGS]\n\n"
      "Inspect and verify PERM persistent-heap images, build programs with\n"
      "PERM's compiler plugin and runtime, and run unmodified programs with\n"
      "a persistent heap.\n\n"
      "commands:\n");
  for (size_t i = 0; i < TOOL_NCOMMANDS; i++)
    fprintf(out, "  %-8s %s\n", tool_commands[i].name,
            tool_commands[i].summary);
  fprintf(out, "  %-8s %s\n", "help", "show this, or 'perm help COMMAND'");
  fprintf(out, "\nExit status: 0 success, 1 the image is damaged or "
               "unreadable, 2 usage error.\n");
}

void tool_command_usage(FILE *out, const tool_command_t *cmd) {
  /* The summary, as a sentence. */
  fprintf(out, "usage: perm %s %s\n\n%c%s.\n", cmd->name, cmd->args,
          toupper((unsigned char)cmd->summary[0]), cmd->summary + 1);
  if (cmd->options != NULL)
    fprintf(out, "\noptions:\n%s", cmd->options);
}

static const tool_command_t *tool_find(const char *name) {
  for (size_t i = 0; i < TOOL_NCOMMANDS; i++)
    if (strcmp(tool_commands[i].name, name) == 0)
      return &tool_commands[i];
  return NULL;
}

/* "perm" until a subcommand is chosen, then "perm NAME". */
static char tool_prefix[32] = "perm";

/*
** Messages quote names and paths from images (the runtime's validator
** messages among them): escaped like the other output (tool_printable), so
** a crafted name cannot drive the terminal from stderr either.
*/
void tool_error(const char *fmt, ...) {
  char msg[8192], shown[4 * sizeof msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s: %s\n", tool_prefix,
          tool_printable(shown, sizeof shown, msg));
}

int tool_parse_flag_image(const tool_command_t *cmd, int argc, char **argv,
                          const char *flag, int *set, const char **image) {
  const struct option opts[] = {{flag, no_argument, NULL, 'f'},
                                {"help", no_argument, NULL, 'h'},
                                {NULL, 0, NULL, 0}};
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'f':
      *set = 1;
      break;
    case 'h':
      tool_command_usage(stdout, cmd);
      return TOOL_EXIT_OK;
    default:
      return tool_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind + 1 != argc)
    return tool_usage_error(cmd, optind == argc ? "no image given"
                                                : "one image at a time");
  *image = argv[optind];
  return -1;
}

int tool_usage_error(const tool_command_t *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "perm %s: ", cmd->name);
  vfprintf(stderr, fmt, ap);
  fputs("\n", stderr);
  va_end(ap);
  tool_command_usage(stderr, cmd);
  return TOOL_EXIT_USAGE;
}

/*------------------------------------------------------ shared output ---*/

const char *tool_block_type_name(uint32_t type) {
  switch (type) {
  case PERM_BLOCK_OBJECTS:
    return "objects";
  case PERM_BLOCK_REGISTRY:
    return "registry";
  case PERM_BLOCK_STATE:
    return "state";
  case PERM_BLOCK_RUNS:
    return "runs";
  case PERM_BLOCK_EXTENTS:
    return "extents";
  }
  return "unknown";
}

const char *tool_state_name(uint32_t code) {
  switch (code) {
  case PERM_STATE_JEMALLOC_DATA:
    return "jemalloc-data";
  case PERM_STATE_JEMALLOC_BSS:
    return "jemalloc-bss";
  case PERM_STATE_RUNTIME:
    return "runtime";
  }
  return "unknown";
}

/* Indexed by bit number: names[i] is the word for flag 1u << i. */
const char *const tool_object_flag_names[3] = {"main", "runtime", "vdso"};
const char *const tool_global_flag_names[7] = {
    "external", "file-static", "static-local", "c++",
    "raw-section", "runtime", "kept"};
const char *const tool_header_flag_names[2] = {"raw-globals", "delta"};

void tool_flag_words(char *buf, size_t size, uint32_t flags,
                     const char *const names[], unsigned nnames) {
  size_t used = 0;
  buf[0] = '\0';
  for (unsigned i = 0; i < nnames; i++) {
    if (!(flags & (1u << i)))
      continue;
    int n =
        snprintf(buf + used, size - used, "%s%s", used ? "," : "", names[i]);
    if (n < 0 || (size_t)n >= size - used)
      return;
    used += (size_t)n;
  }
  /* Bits this tool does not know are shown, not dropped: a newer writer. */
  uint32_t unknown = nnames >= 32 ? 0 : flags & ~((1u << nnames) - 1u);
  if (unknown != 0)
    snprintf(buf + used, size - used, "%s0x%" PRIx32, used ? "," : "", unknown);
  else if (used == 0)
    snprintf(buf, size, "-");
}

void tool_human_bytes(char *buf, size_t size, uint64_t n) {
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = (double)n;
  unsigned u = 0;
  while (v >= 1024 && u + 1 < sizeof unit / sizeof unit[0]) {
    v /= 1024;
    u++;
  }
  if (u == 0)
    snprintf(buf, size, "%" PRIu64 " B", n);
  else
    snprintf(buf, size, "%.1f %s", v, unit[u]);
}

void tool_iso_time(char *buf, size_t size, uint64_t time_ns) {
  time_t s = (time_t)(time_ns / 1000000000u);
  struct tm tm;
  char day[32];
  if (gmtime_r(&s, &tm) == NULL ||
      strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
    snprintf(day, sizeof day, "@%" PRIu64, time_ns / 1000000000u);
  snprintf(buf, size, "%s.%09" PRIu64 "Z", day, time_ns % 1000000000u);
}

void tool_hex(char *buf, size_t size, const uint8_t *bytes, uint32_t n) {
  buf[0] = '\0';
  for (uint32_t i = 0; i < n && 2 * i + 2 < size; i++)
    snprintf(buf + 2 * i, size - 2 * i, "%02x", bytes[i]);
}

/*--------------------------------------------------------------- main ---*/

int main(int argc, char **argv) {
  /* permcc and perm++ (links to perm) are perm cc and perm c++. */
  const char *base =
      strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
  if (strcmp(base, "permcc") == 0 || strcmp(base, "perm++") == 0) {
    const tool_command_t *cc = tool_find(base[4] == 'c' ? "cc" : "c++");
    snprintf(tool_prefix, sizeof tool_prefix, "%s", base);
    return cc->run(cc, argc, argv);
  }
  /* getopt_long from glibc is all the parsing this needs; '+' stops at the
  ** subcommand so its own options are left for it. */
  static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                       {"version", no_argument, NULL, 'V'},
                                       {NULL, 0, NULL, 0}};
  int c;
  opterr = 0; /* our own message, with the usage */
  while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
    switch (c) {
    case 'h':
      tool_usage(stdout);
      return TOOL_EXIT_OK;
    case 'V':
      printf("PERM %s\nimage format version %u\n", PERM_RUNTIME_VERSION,
             PERM_IMAGE_FORMAT_VERSION);
      return TOOL_EXIT_OK;
    default:
      fprintf(stderr, "perm: unknown option '%s'\n", argv[optind - 1]);
      tool_usage(stderr);
      return TOOL_EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "perm: no command given\n");
    tool_usage(stderr);
    return TOOL_EXIT_USAGE;
  }
  const char *name = argv[optind];
  if (strcmp(name, "help") == 0) {
    if (optind + 1 >= argc) {
      tool_usage(stdout);
      return TOOL_EXIT_OK;
    }
    const tool_command_t *cmd = tool_find(argv[optind + 1]);
    if (cmd == NULL) {
      fprintf(stderr, "perm: no such command '%s'\n", argv[optind + 1]);
      tool_usage(stderr);
      return TOOL_EXIT_USAGE;
    }
    tool_command_usage(stdout, cmd);
    return TOOL_EXIT_OK;
  }
  const tool_command_t *cmd = tool_find(name);
  if (cmd == NULL) {
    fprintf(stderr, "perm: unknown command '%s'\n", name);
    tool_usage(stderr);
    return TOOL_EXIT_USAGE;
  }
  snprintf(tool_prefix, sizeof tool_prefix, "perm %s", cmd->name);
  /* The subcommand parses argv from its own name, with getopt reset. */
  argc -= optind;
  argv += optind;
  optind = 0;
  return cmd->run(cmd, argc, argv);
}
