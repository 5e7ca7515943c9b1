// Shared by the scheduler's files: GUC values, process-level state, and small catalog helpers.
// Include after std headers (it includes the PostgreSQL headers).
#pragma once
#include <cstdint>

#include "pg/as_superuser.hpp"
#include "pg/guard.hpp"
#include "pg/pg_bgworker.hpp"

namespace rollup::scheduler {

// GUCs (defined in scheduler.cpp).
extern bool enable_scheduler;
extern char *scheduler_database;
extern char *timezone_name;   // "" = the server's TimeZone
extern int job_run_history;   // runs kept per job

// Was rollup loaded by shared_preload_libraries (so that the launcher exists)?
extern bool loaded_at_startup;

// Rows reported by report_rows() since the last reset (-1: none).
extern int64_t reported_rows;


// What the launcher passes to a job run worker in bgw_extra.
struct RunRequest {
    int64_t runid;
    int64_t jobid;
    Oid dboid;
    Oid owner;
    int64_t timeout_ms;  // 0: none
};
static_assert(sizeof(RunRequest) <= BGW_EXTRALEN, "RunRequest must fit in bgw_extra");

// Milliseconds since 1970-01-01 UTC, from PostgreSQL's clock.
int64_t unix_now_ms();

// Starts a dynamic background worker of rollup (entry point `function`, connected to a database,
// never restarted, reporting to this process) with `extra` (at most BGW_EXTRALEN bytes) in
// bgw_extra. PostgreSQL-style C: nullptr when no worker slot is free.
BackgroundWorkerHandle *start_rollup_worker(const char *function, const char *name, const char *type,
                                            const void *extra, size_t extra_len);

// The catalog tables are written in a privileged scope (pg/as_superuser.hpp: the bootstrap
// superuser, search_path pinned). Transaction abort restores the user and the settings if an error
// skips the restore.
using CatalogUser = pg::PrivilegedState;
inline void become_catalog_owner(CatalogUser &saved) { pg::enter_privileged(saved); }
inline void restore_user(const CatalogUser &saved) { pg::leave_privileged(saved); }

}  // namespace rollup::scheduler
