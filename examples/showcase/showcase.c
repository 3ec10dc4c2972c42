/*
** showcase - why a persistent heap: an inverted index that takes seconds to
** build and milliseconds to get back.
**
** The first run generates a deterministic corpus (documents of words drawn
** from a Zipf-like vocabulary), indexes it into a hash table of terms, a
** posting list per term and a trie over the vocabulary, checkpoints, and
** answers a fixed set of queries.  The next run finds the whole index in
** the persistent heap, pointers and all, and answers the same queries the
** same way without indexing anything.  --add extends the restored index
** and checkpoints again.  Document i is the same text whichever run indexes
** it, so an index extended by --add answers as one built in one go.
** Test: test/examples/showcase.test; demo: scripts/demo.sh.
**
**   showcase IMAGE [--docs N] [--add K]
**     --docs N   documents of a new index (default 300000)
**     --add K    index K more documents into the restored index
**
** Lines that start with "query" or "prefix" are the answers; the others
** report what the run did and how long it took.
*/
#include <math.h>
#include <perm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SHOWCASE_DEFAULT_DOCS 300000u
#define SHOWCASE_VOCABULARY 60000u /* distinct words the generator draws */
#define SHOWCASE_MAX_WORD 32u

/* One document that holds a term, and how often. */
typedef struct posting_s {
  uint32_t doc;
  uint32_t tf;
} posting_t;

typedef struct term_s {
  char *word;          /* malloc'd */
  posting_t *postings; /* sorted by document, realloc'd as it grows */
  uint32_t npostings;
  uint32_t cap;
} term_t;

/* The vocabulary as a trie: first child, next sibling. */
typedef struct trie_node_s {
  struct trie_node_s *child;
  struct trie_node_s *sibling;
  int32_t term; /* the term ending here, or -1 */
  char c;
} trie_node_t;

typedef struct index_s {
  uint32_t ndocs;
  uint64_t nwords;    /* words indexed, all documents */
  uint64_t npostings; /* over all terms */
  term_t *terms;      /* by term id */
  uint32_t nterms, capterms;
  uint32_t *slots;     /* open addressing: term id + 1, or 0 */
  uint32_t nslots;     /* a power of two */
  trie_node_t *trie;   /* the root; its c is unused */
  uint32_t extensions; /* runs that indexed documents */
} index_t;

PERM index_t *showcase_index; /* the root of everything */

static double showcase_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *showcase_xalloc(void *p) {
  if (p == NULL) {
    fprintf(stderr, "showcase: out of memory\n");
    exit(1);
  }
  return p;
}

/*------------------------------------------------------- the corpus ---*/

/* splitmix64: one seed per document makes each document independent. */
static uint64_t showcase_mix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Word number r of the vocabulary: syllables spelling r in base 20. */
static void showcase_word(uint32_t r, char *out) {
  static const char *const syl[20] = {"ka", "lo", "mi", "nu", "pe", "ra", "si",
                                      "to", "va", "ze", "bo", "di", "fu", "ge",
                                      "hi", "jo", "ku", "la", "me", "ni"};
  size_t n = 0;
  do {
    memcpy(out + n, syl[r % 20], 2);
    n += 2;
    r /= 20;
  } while (r > 0);
  out[n] = '\0';
}

/*
** The text of document d, as a real corpus would hand it over: words and
** spaces.  Ranks are log-uniform (r = V^u), so a few words are everywhere
** and most are rare, as in natural language.
*/
static size_t showcase_document(uint32_t d, char *buf) {
  uint64_t s = 0x5eed0000ull + d;
  unsigned len = 40 + (unsigned)(showcase_mix(&s) % 120);
  size_t n = 0;
  for (unsigned i = 0; i < len; i++) {
    double u = (double)(showcase_mix(&s) >> 11) / 9007199254740992.0;
    uint32_t r = (uint32_t)pow(SHOWCASE_VOCABULARY, u) - 1;
    if (r >= SHOWCASE_VOCABULARY)
      r = SHOWCASE_VOCABULARY - 1;
    if (n > 0)
      buf[n++] = ' ';
    showcase_word(r, buf + n);
    n += strlen(buf + n);
  }
  buf[n] = '\0';
  return n;
}

/*-------------------------------------------------------- the index ---*/

static uint32_t showcase_hash(const char *w, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)w[i]) * 16777619u;
  return h;
}

static void showcase_rehash(index_t *ix) {
  uint32_t n = ix->nslots ? ix->nslots * 2 : 1024;
  uint32_t *s = showcase_xalloc(calloc(n, sizeof *s));
  for (uint32_t t = 0; t < ix->nterms; t++) {
    const char *w = ix->terms[t].word;
    uint32_t i = showcase_hash(w, strlen(w)) & (n - 1);
    while (s[i] != 0)
      i = (i + 1) & (n - 1);
    s[i] = t + 1;
  }
  free(ix->slots);
  ix->slots = s;
  ix->nslots = n;
}

static void showcase_trie_insert(index_t *ix, const char *w, int32_t id) {
  trie_node_t *node = ix->trie;
  for (; *w != '\0'; w++) {
    trie_node_t **link = &node->child;
    while (*link != NULL && (*link)->c < *w)
      link = &(*link)->sibling;
    if (*link == NULL || (*link)->c != *w) {
      trie_node_t *k = showcase_xalloc(malloc(sizeof *k));
      *k = (trie_node_t){.child = NULL, .sibling = *link, .term = -1, .c = *w};
      *link = k;
    }
    node = *link;
  }
  node->term = id;
}

/* The term id of the word w[0..n), added when new. */
static uint32_t showcase_term(index_t *ix, const char *w, size_t n) {
  if (2 * (ix->nterms + 1) > ix->nslots)
    showcase_rehash(ix);
  uint32_t i = showcase_hash(w, n) & (ix->nslots - 1);
  for (; ix->slots[i] != 0; i = (i + 1) & (ix->nslots - 1)) {
    const char *t = ix->terms[ix->slots[i] - 1].word;
    if (strncmp(t, w, n) == 0 && t[n] == '\0')
      return ix->slots[i] - 1;
  }
  if (ix->nterms == ix->capterms) {
    ix->capterms = ix->capterms ? 2 * ix->capterms : 1024;
    ix->terms = showcase_xalloc(
        realloc(ix->terms, (size_t)ix->capterms * sizeof *ix->terms));
  }
  term_t *t = &ix->terms[ix->nterms];
  *t = (term_t){.word = showcase_xalloc(malloc(n + 1))};
  memcpy(t->word, w, n);
  t->word[n] = '\0';
  ix->slots[i] = ix->nterms + 1;
  showcase_trie_insert(ix, t->word, (int32_t)ix->nterms);
  return ix->nterms++;
}

static void showcase_add_posting(index_t *ix, term_t *t, uint32_t doc) {
  if (t->npostings > 0 && t->postings[t->npostings - 1].doc == doc) {
    t->postings[t->npostings - 1].tf++;
    return;
  }
  if (t->npostings == t->cap) {
    t->cap = t->cap ? 2 * t->cap : 4;
    t->postings = showcase_xalloc(
        realloc(t->postings, (size_t)t->cap * sizeof *t->postings));
  }
  t->postings[t->npostings++] = (posting_t){.doc = doc, .tf = 1};
  ix->npostings++;
}

/* Index documents [ix->ndocs, upto). */
static void showcase_index_docs(index_t *ix, uint32_t upto) {
  char *buf = showcase_xalloc(malloc(160 * (SHOWCASE_MAX_WORD + 1) + 1));
  for (uint32_t d = ix->ndocs; d < upto; d++) {
    showcase_document(d, buf);
    for (const char *p = buf; *p != '\0';) {
      size_t n = strcspn(p, " ");
      uint32_t id = showcase_term(ix, p, n); /* may move ix->terms */
      showcase_add_posting(ix, &ix->terms[id], d);
      ix->nwords++;
      p += n;
      p += *p == ' ';
    }
  }
  free(buf);
  ix->ndocs = upto;
  ix->extensions++;
}

/*------------------------------------------------------ the queries ---*/

static const term_t *showcase_lookup(const index_t *ix, const char *w) {
  uint32_t i = showcase_hash(w, strlen(w)) & (ix->nslots - 1);
  for (; ix->slots[i] != 0; i = (i + 1) & (ix->nslots - 1))
    if (strcmp(ix->terms[ix->slots[i] - 1].word, w) == 0)
      return &ix->terms[ix->slots[i] - 1];
  return NULL;
}

typedef struct hit_s {
  uint32_t doc;
  uint32_t score;
} hit_t;

/* Documents holding both words, the best three by summed frequency. */
static void showcase_query_and(const index_t *ix, const char *a,
                               const char *b) {
  const term_t *x = showcase_lookup(ix, a), *y = showcase_lookup(ix, b);
  hit_t best[3] = {{0, 0}, {0, 0}, {0, 0}};
  uint32_t count = 0;
  for (uint32_t i = 0, k = 0; x && y && i < x->npostings && k < y->npostings;) {
    uint32_t da = x->postings[i].doc, db = y->postings[k].doc;
    if (da < db) {
      i++;
    } else if (db < da) {
      k++;
    } else {
      hit_t h = {da, x->postings[i].tf + y->postings[k].tf};
      count++;
      for (int j = 0; j < 3; j++)
        if (h.score > best[j].score) {
          hit_t tmp = best[j];
          best[j] = h;
          h = tmp;
        }
      i++;
      k++;
    }
  }
  printf("query \"%s %s\": %u documents", a, b, count);
  for (int j = 0; j < 3 && best[j].score > 0; j++)
    printf("%s doc %u (score %u)", j ? "," : "; best", best[j].doc,
           best[j].score);
  printf("\n");
}

typedef struct prefix_stats_s {
  uint32_t terms;
  uint64_t postings;
  int32_t top; /* the term with most documents */
} prefix_stats_t;

static void showcase_walk(const index_t *ix, const trie_node_t *n,
                          prefix_stats_t *s) {
  for (; n != NULL; n = n->sibling) {
    if (n->term >= 0) {
      const term_t *t = &ix->terms[n->term];
      s->terms++;
      s->postings += t->npostings;
      if (s->top < 0 || t->npostings > ix->terms[s->top].npostings)
        s->top = n->term;
    }
    showcase_walk(ix, n->child, s);
  }
}

static void showcase_query_prefix(const index_t *ix, const char *prefix) {
  const trie_node_t *n = ix->trie;
  for (const char *p = prefix; *p != '\0' && n != NULL; p++) {
    n = n->child;
    while (n != NULL && n->c != *p)
      n = n->sibling;
  }
  prefix_stats_t s = {0, 0, -1};
  if (n != NULL) {
    if (n->term >= 0) {
      s.terms = 1;
      s.postings = ix->terms[n->term].npostings;
      s.top = n->term;
    }
    showcase_walk(ix, n->child, &s);
  }
  printf("prefix \"%s\": %u terms, %llu postings", prefix, s.terms,
         (unsigned long long)s.postings);
  if (s.top >= 0)
    printf(", most frequent \"%s\" in %u documents", ix->terms[s.top].word,
           ix->terms[s.top].npostings);
  printf("\n");
}

static void showcase_queries(const index_t *ix) {
  /* Common, middling and rare words: short and long posting lists. */
  static const uint32_t pairs[][2] = {{1, 2}, {7, 300}, {150, 9000}};
  char a[SHOWCASE_MAX_WORD], b[SHOWCASE_MAX_WORD];
  double t0 = showcase_now();
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
    showcase_word(pairs[i][0], a);
    showcase_word(pairs[i][1], b);
    showcase_query_and(ix, a, b);
  }
  static const char *const prefixes[] = {"ka", "zeze"};
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
    showcase_query_prefix(ix, prefixes[i]);
  printf("answered in %.1f ms\n", (showcase_now() - t0) * 1e3);
}

/*------------------------------------------------------------- main ---*/

static int showcase_usage(void) {
  fprintf(stderr, "usage: showcase IMAGE [--docs N] [--add K]\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2 || argv[1][0] == '-')
    return showcase_usage();
  unsigned long docs = SHOWCASE_DEFAULT_DOCS, add = 0;
  for (int i = 2; i < argc; i++) {
    char *end;
    unsigned long *v = strcmp(argv[i], "--docs") == 0  ? &docs
                       : strcmp(argv[i], "--add") == 0 ? &add
                                                       : NULL;
    if (v == NULL || i + 1 == argc)
      return showcase_usage();
    *v = strtoul(argv[++i], &end, 10);
    if (*end != '\0' || *v > 50000000ul)
      return showcase_usage();
  }

  double t0 = showcase_now();
  if (perm_open(argv[1], "a+") != 0) {
    fprintf(stderr, "showcase: %s\n", perm_error());
    return 1;
  }
  double opened = showcase_now() - t0;

  index_t *ix = showcase_index;
  uint32_t indexed = 0;
  perm_stats_t st;
  perm_stats(&st);
  if (ix != NULL) {
    printf("restored the index from %s (generation %llu) in %.1f ms: %u "
           "documents, %u terms\n",
           argv[1], (unsigned long long)st.generation, opened * 1e3, ix->ndocs,
           ix->nterms);
  } else {
    printf("no index in %s yet: building one of %lu documents\n", argv[1],
           docs);
    ix = showcase_xalloc(calloc(1, sizeof *ix));
    ix->trie = showcase_xalloc(calloc(1, sizeof *ix->trie));
    ix->trie->term = -1;
    showcase_index = ix;
    add = docs;
  }
  if (add > 0) {
    double t1 = showcase_now();
    uint32_t from = ix->ndocs;
    showcase_index_docs(ix, from + (uint32_t)add);
    indexed = ix->ndocs - from;
    perm_stats(&st);
    printf("  indexed %u documents in %.2f s: %u documents, %.1fM words, %u "
           "terms, %.1fM postings, %.0f MiB of heap\n",
           indexed, showcase_now() - t1, ix->ndocs, (double)ix->nwords / 1e6,
           ix->nterms, (double)ix->npostings / 1e6,
           (double)st.allocated / (1 << 20));
    double t2 = showcase_now();
    if (perm_checkpoint() != 0) {
      fprintf(stderr, "showcase: %s\n", perm_error());
      return 1;
    }
    perm_stats(&st);
    printf("  checkpoint (generation %llu) written in %.2f s\n",
           (unsigned long long)st.generation, showcase_now() - t2);
  }
  printf("  documents indexed by this run: %u\n", indexed);
  showcase_queries(ix);
  return 0;
}
