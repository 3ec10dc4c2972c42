/*
** tortureprog.c - a heap whose every generation can be checked whole, for
** the torture tests (SIGKILL at random instants).  Generation g holds:
**   - ring[]: the nodes of generations g-RING+1 .. g, each with a blob of a
**     size and pattern of its generation (older ones are freed, so the
**     allocator reuses and purges memory);
**   - every 5th generation a large blob (1 to 4 MiB, an extent of its own)
**     that replaces the one before;
**   - pages[]: npages pages of which generation h rewrote 8 chosen by h
**     (page i holds the pattern of the last generation <= g that chose it,
**     recomputed from scratch at each check, or zeros, or, when the heap
**     was created with TORTURE_PREFILL=1, the pattern of generation 0).
**
**   tortureprog IMAGE loop [MODE [COUNT]]   open (a+ or MODE), verify,
**        then add a generation and checkpoint, COUNT times (0: forever),
**        printing "committed G" after each
**   tortureprog IMAGE verify [MODE]         open (r or MODE), verify,
**        print "generation G"
** A new heap gets TORTURE_PAGES pages (default 1024).  Exit 1 with
** "FAIL ..." when the heap is not exactly generation G's.
*/
#include "zdtm.h"
#include <perm.h>

#define RING 24
#define PAGE 4096u
#define PAGE_WRITES 8

typedef struct node_s {
  uint64_t gen;
  size_t n;
  unsigned char *blob;
} node_t;

static node_t *ring[RING];
static uint64_t generation;
static unsigned char *pages;
static uint64_t npages, prefill;
static unsigned char *big;
static uint64_t big_gen;

static size_t blob_size(uint64_t g) { return 4096 + zdtm_mix(g) % 200000; }
static size_t big_size(uint64_t g) {
  return (1u << 20) + zdtm_mix(g ^ 0xb16) % (3u << 20);
}
static uint64_t page_of(uint64_t g, unsigned k) {
  return zdtm_mix(g * PAGE_WRITES + k) % npages;
}
static uint64_t page_seed(uint64_t g, uint64_t i) { return (g << 24) | i; }

static void verify(void) {
  uint64_t g = generation;
  for (uint64_t s = 0; s < RING; s++) {
    /* The newest generation h <= g with h % RING == s, if any. */
    uint64_t h = g >= s ? g - (g - s) % RING : 0;
    if (h == 0 || h + RING <= g) {
      check(ring[s] == NULL, "slot %llu of generation %llu is not empty",
            (unsigned long long)s, (unsigned long long)g);
      continue;
    }
    node_t *n = ring[s];
    check(n != NULL, "slot %llu: generation %llu's node is missing",
          (unsigned long long)s, (unsigned long long)h);
    check(n->gen == h && n->n == blob_size(h),
          "slot %llu holds generation %llu (%zu bytes), expected %llu",
          (unsigned long long)s, (unsigned long long)n->gen, n->n,
          (unsigned long long)h);
    check(zdtm_verify(n->blob, n->n, h) == (size_t)-1,
          "the blob of generation %llu is damaged", (unsigned long long)h);
  }
  uint64_t bg = g - g % 5;
  if (bg == 0) {
    check(big == NULL && big_gen == 0, "a large blob before generation 5");
  } else {
    check(big != NULL && big_gen == bg, "large blob of generation %llu, "
          "expected %llu", (unsigned long long)big_gen,
          (unsigned long long)bg);
    check(zdtm_verify(big, big_size(bg), bg ^ 0xb16) == (size_t)-1,
          "the large blob of generation %llu is damaged",
          (unsigned long long)bg);
  }
  check(pages != NULL && npages > 0, "no pages");
  uint64_t *last = calloc(npages, sizeof *last);
  check(last != NULL, "out of memory");
  for (uint64_t h = 1; h <= g; h++)
    for (unsigned k = 0; k < PAGE_WRITES; k++)
      last[page_of(h, k)] = h;
  static const unsigned char zero[PAGE];
  for (uint64_t i = 0; i < npages; i++) {
    const unsigned char *p = pages + i * PAGE;
    if (last[i] == 0 && !prefill)
      check(memcmp(p, zero, PAGE) == 0, "page %llu is not zero",
            (unsigned long long)i);
    else
      check(zdtm_verify(p, PAGE, page_seed(last[i], i)) == (size_t)-1,
            "page %llu does not hold generation %llu's bytes",
            (unsigned long long)i, (unsigned long long)last[i]);
  }
  free(last);
}

static void step(void) {
  uint64_t g = generation + 1;
  node_t **slot = &ring[g % RING];
  if (*slot != NULL) {
    free((*slot)->blob);
    free(*slot);
  }
  node_t *n = malloc(sizeof *n);
  n->gen = g;
  n->n = blob_size(g);
  n->blob = malloc(n->n);
  zdtm_fill(n->blob, n->n, g);
  *slot = n;
  if (g % 5 == 0) {
    free(big);
    big = malloc(big_size(g));
    zdtm_fill(big, big_size(g), g ^ 0xb16);
    big_gen = g;
  }
  for (unsigned k = 0; k < PAGE_WRITES; k++) {
    uint64_t i = page_of(g, k);
    zdtm_fill(pages + i * PAGE, PAGE, page_seed(g, i));
  }
  generation = g;
}

int main(int argc, char **argv) {
  check(argc >= 3, "usage: tortureprog IMAGE loop|verify [MODE [COUNT]]");
  perm_register(ring, sizeof ring, "ring");
  perm_register(&generation, sizeof generation, "generation");
  perm_register(&pages, sizeof pages, "pages");
  perm_register(&npages, sizeof npages, "npages");
  perm_register(&prefill, sizeof prefill, "prefill");
  perm_register(&big, sizeof big, "big");
  perm_register(&big_gen, sizeof big_gen, "big_gen");
  int loop = strcmp(argv[2], "loop") == 0;
  const char *mode = argc > 3 ? argv[3] : loop ? "a+" : "r";
  long count = argc > 4 ? atol(argv[4]) : 0;
  if (perm_open(argv[1], mode) != 0)
    fail("perm_open: %s", perm_error());
  if (!perm_restored()) {
    const char *v = getenv("TORTURE_PAGES");
    npages = v ? strtoull(v, NULL, 0) : 1024;
    v = getenv("TORTURE_PREFILL");
    prefill = v && strcmp(v, "1") == 0;
    pages = calloc(npages, PAGE);
    check(pages != NULL, "out of memory for %llu pages",
          (unsigned long long)npages);
    if (prefill)
      for (uint64_t i = 0; i < npages; i++)
        zdtm_fill(pages + i * PAGE, PAGE, page_seed(0, i));
  }
  verify();
  if (!loop) {
    printf("generation %llu\n", (unsigned long long)generation);
    return 0;
  }
  for (long i = 0; count == 0 || i < count; i++) {
    step();
    if (perm_checkpoint() != 0)
      fail("perm_checkpoint: %s", perm_error());
    printf("committed %llu\n", (unsigned long long)generation);
    fflush(stdout);
  }
  return 0;
}
