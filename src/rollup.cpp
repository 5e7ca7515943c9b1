// Module entry: PG_MODULE_MAGIC, GUCs, hooks, callbacks, background workers.
#include "core/rollup_plan.hpp"

#include "commands/commands.hpp"
#include "connection/connection_pool.hpp"
#include "executor/remote_exec.hpp"
#include "metadata/metadata_cache.hpp"
#include "planner/hooks.hpp"
#include "rollup/invalidations.hpp"
#include "planner/time_buckets.hpp"
#include "scheduler/scheduler.hpp"
#include "transaction/remote_transaction.hpp"

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

extern "C" void _PG_init(void) {
    using namespace rollup;
    // Loaded on demand, the hooks would exist only in the backends that happened to call one of our
    // functions, and another backend could write rows into a shell table: refuse.
    if (!process_shared_preload_libraries_in_progress)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("rollup must be loaded via shared_preload_libraries"),
                        errhint("Add rollup to shared_preload_libraries in postgresql.conf and restart the server.")));
    DefineCustomIntVariable("rollup.shard_count", "Shards of a newly distributed table (default of create_distributed_table).",
                            NULL, &commands::default_shard_count, 32, 1, 64000, PGC_USERSET, 0, NULL, NULL, NULL);
    DefineCustomIntVariable("rollup.next_shard_id", "If set, the next shard id to use (deterministic ids for tests).",
                            NULL, &commands::next_shard_id, 0, 0, INT_MAX, PGC_USERSET, 0, NULL, NULL, NULL);
    conn::define_gucs();
    exec::define_gucs();
    xact::define_gucs();
    deparse::define_time_bucket_gucs();
    hooks::init();
    scheduler::init();
    MarkGUCPrefixReserved("rollup");
    metadata::register_callbacks();
    xact::register_callbacks();
    engine::register_callbacks();
}
