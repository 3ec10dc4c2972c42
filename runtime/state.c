/*
** state.c - the runtime's persistent state, in its own saved section.
*/
#include "state.h"

perm_saved_t perm__saved __attribute__((section("permrt_state"), used));
