/* One program in several versions (-DV=1..4), for type checks and rebuilds.
**   V=1  the original
**   V=2  struct state gained a field: its layout, so its type hash, changed
**   V=3  only code changed (and one more global, and one fewer)
**   V=4  a typedef renamed, same layout */
#include <perm.h>
#include <stdio.h>
#include <stdlib.h>

#if V == 4
typedef int counter_t;
#define COUNTER counter_t
#else
#define COUNTER int
#endif

struct state {
  COUNTER runs;
  long total;
#if V == 2
  long extra;
#endif
  char *note; /* heap */
};

PERM struct state state;
#if V != 3
PERM int retired; /* gone in V=3 */
#else
PERM int fresh = 42; /* new in V=3: keeps its initializer */
#endif

int main(int argc, char **argv) {
  if (argc != 2)
    return 2;
  if (perm_open(argv[1], "a+") != 0) {
    printf("error: %s\n", perm_error());
    return 1;
  }
  state.runs++;
  state.total += state.runs;
  if (state.note == NULL) {
    state.note = malloc(32);
    snprintf(state.note, 32, "written by version %d", V);
  }
  perm_stats_t st;
  perm_stats(&st);
#if V == 3
  printf("v3 says hello: fresh=%d ", fresh);
#endif
  printf("v%d runs=%d total=%ld note='%s' restored=%llu new=%llu dropped=%llu\n",
         V, state.runs, state.total, state.note,
         (unsigned long long)st.globals_restored,
         (unsigned long long)st.globals_new,
         (unsigned long long)st.globals_dropped);
  return perm_checkpoint() == 0 ? 0 : 1;
}
