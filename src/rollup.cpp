// Module entry: PG_MODULE_MAGIC and _PG_init.
#include "scheduler/scheduler.hpp"

#include "pg/guard.hpp"

extern "C" {
PG_MODULE_MAGIC;
PGDLLEXPORT void _PG_init(void);
}

extern "C" void _PG_init(void) {
    rollup::pg::guard([] { rollup::scheduler::init(); });
}
