/*
** arena.c - an unmodified program that keeps its state in memory it maps
** itself, as CPython's object allocator does (run-mmap.test): under perm run
** the mappings persist with the heap.
**
**   arena         one more record in each arena, then check everything
**   arena big     also map more than the region holds (not persistent)
**
** Arenas: records in 1 MiB from mmap, a counter in 256 KiB from mmap64 (as
** Debian's python3.11 calls it), a scratch mapping made in one run and
** unmapped in the next, a table grown by mremap every run, whose first page
** is given back with madvise(MADV_DONTNEED) and must read as zeros.
*/
#define _GNU_SOURCE
#define _LARGEFILE64_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ARENA_SIZE (1u << 20)
#define SCRATCH_SIZE (64u << 10)
#define GROW_STEP (64u << 10)

struct record {
  struct record *next;
  long n;
  char text[40];
};

static char *arena;        /* records, bump-allocated */
static size_t arena_used;
static struct record *records;
static long *counter;      /* in its own mmap64 mapping */
static unsigned char *scratch; /* made in the previous run */
static long *table;        /* grown by mremap */
static size_t table_size;

static void *map(size_t len) {
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static int fail(const char *what) {
  printf("FAIL: %s\n", what);
  return 1;
}

int main(int argc, char **argv) {
  if (arena == NULL) {
    arena = map(ARENA_SIZE);
    void *c = mmap64(NULL, 256u << 10, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (arena == NULL || c == MAP_FAILED)
      return fail("mmap");
    counter = c;
  }
  ++*counter;

  /* One record more; every record is checked. */
  struct record *r = (struct record *)(arena + arena_used);
  arena_used += sizeof *r;
  r->n = *counter;
  snprintf(r->text, sizeof r->text, "record %ld", r->n);
  r->next = records;
  records = r;
  long n = 0, sum = 0;
  for (struct record *p = records; p != NULL; p = p->next, n++) {
    char want[40];
    snprintf(want, sizeof want, "record %ld", p->n);
    if (strcmp(p->text, want) != 0)
      return fail("a record lost its text");
    sum += p->n;
  }

  /* The previous run's scratch: its pattern, then unmapped. */
  const char *scratch_state = "none";
  if (scratch != NULL) {
    for (size_t i = 0; i < SCRATCH_SIZE; i++)
      if (scratch[i] != (unsigned char)(*counter - 1 + i))
        return fail("the scratch mapping lost its pattern");
    if (munmap(scratch, SCRATCH_SIZE) != 0)
      return fail("munmap");
    scratch_state = "ok";
  }
  scratch = map(SCRATCH_SIZE);
  if (scratch == NULL)
    return fail("mmap scratch");
  for (size_t i = 0; i < SCRATCH_SIZE; i++)
    scratch[i] = (unsigned char)(*counter + i);

  /* The table grows by one step a run and keeps what it held. */
  size_t grown = table_size + GROW_STEP;
  long *t = table == NULL ? map(grown)
                          : mremap(table, table_size, grown, MREMAP_MAYMOVE);
  if (t == NULL || t == MAP_FAILED)
    return fail("mremap");
  for (size_t i = 0; i < table_size / sizeof(long); i++)
    if (t[i] != (long)i * 7)
      return fail("the table lost its content");
  for (size_t i = table_size / sizeof(long); i < grown / sizeof(long); i++)
    t[i] = (long)i * 7;
  table = t;
  table_size = grown;

  /*
  ** A page given back reads as zeros, even the first page of the table,
  ** which after a lazy restore is a private mapping of the image.
  */
  long page = sysconf(_SC_PAGESIZE);
  long *first = table;
  if (madvise(first, (size_t)page, MADV_DONTNEED) != 0)
    return fail("madvise");
  for (long i = 0; i < page / (long)sizeof(long); i++)
    if (first[i] != 0)
      return fail("a page given back with MADV_DONTNEED is not zero");
  for (long i = 0; i < page / (long)sizeof(long); i++)
    first[i] = i * 7;

  if (argc > 1 && strcmp(argv[1], "big") == 0) {
    void *big = mmap(NULL, 2ull << 30, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (big == MAP_FAILED)
      return fail("a big mapping");
    ((char *)big)[0] = 1;
    munmap(big, 2ull << 30);
  }
  uintptr_t region = 0x7e0000000000u;
  printf("arena: runs=%ld records=%ld sum=%ld scratch=%s table=%zu KiB "
         "in the region: %s\n",
         *counter, n, sum, scratch_state, table_size >> 10,
         (uintptr_t)arena - region < (1ull << 30) &&
                 (uintptr_t)table - region < (1ull << 30)
             ? "yes"
             : "no");
  return 0;
}
