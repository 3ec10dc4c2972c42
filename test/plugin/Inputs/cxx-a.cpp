#include "cxx-shared.h"
long bump_from_a() { return ++app::inline_counter; }
