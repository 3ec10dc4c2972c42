/*
** plain.c - an ordinary program: no PERM header, no PERM call.  Under
** libperm-preload.so (or perm run) its heap and its globals persist.
*/
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct item {
  struct item *next;
  int n;
  char name[24];
};

static struct item *items; /* bss */
static int runs;           /* bss */
int counter = 100;         /* data */
const char *greeting = "hello"; /* data, pointing at a string literal */

int main(int argc, char **argv) {
  runs++;
  counter++;
  struct item *it = malloc(sizeof *it);
  it->n = runs;
  snprintf(it->name, sizeof it->name, "item%d", runs);
  it->next = items;
  items = it;
  int n = 0, sum = 0;
  for (struct item *p = items; p; p = p->next, n++)
    sum += p->n;
  /* environ and stdout are the process's own, not restored */
  printf("runs=%d counter=%d items=%d sum=%d first=%s %s home=%s\n", runs,
         counter, n, sum, items->name, greeting, getenv("HOME") ? "set" : "unset");
  if (argc > 1) { /* PMalloc's way: find the dump function with dlsym */
    int (*store)(const char *) =
        (int (*)(const char *))dlsym(RTLD_DEFAULT, "pmalloc_store_heap_file");
    if (store == NULL || store(argv[1]) != 0) {
      printf("pmalloc_store_heap_file failed\n");
      return 1;
    }
    printf("stored %s\n", argv[1]);
  }
  return 0;
}
