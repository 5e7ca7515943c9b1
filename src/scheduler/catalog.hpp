// SQL on the scheduler's catalog (rollup.job, rollup.job_run), for the scheduler worker and the job
// workers. These functions call PostgreSQL directly and their frames hold only PODs: from C++ code
// that holds objects, call them through rollup::pg::call. They expect an open transaction with SPI
// connected and run as whatever user is current (callers switch to the catalog owner).
#pragma once
#include <cstdint>

#include "scheduler/internal.hpp"

namespace rollup::scheduler {

struct JobRow {
    int64_t jobid;
    char *job_name;    // palloc'd in the context given to load_jobs
    char *schedule;
    Oid owner;
    char *database;
    int64_t timeout_ms;   // 0: none
    int retries;
    int64_t backoff_ms;
    int64_t changed_s;    // UTC seconds: interval schedules count from here
    int64_t running_runid;  // a run still marked 'running', or 0
    int running_pid;        // its worker's pid, or 0
};

// Opens a transaction with SPI and a snapshot, as the catalog owner; close_txn commits.
void open_txn(CatalogUser &saved);
void close_txn(const CatalogUser &saved);

bool extension_exists();
// Active jobs of this database's catalog, ordered by jobid.
int load_jobs(JobRow **rows, MemoryContext cxt);
// Inserts a run record; for a status other than 'running' it is already finished. Returns runid.
int64_t insert_run(int64_t jobid, const char *job_name, Oid owner, int attempt, const char *status,
                   const char *message);
// Sets the final status of a run (only if it is still 'running' when only_if_running).
void finish_run(int64_t runid, const char *status, int64_t rows, bool rows_null, const char *message,
                bool only_if_running);
// The status of a run, palloc'd, or nullptr when the record is gone.
char *run_status(int64_t runid);
// Marks 'running' runs whose worker is gone (crash, restart) as failed. Returns how many.
uint64_t fail_orphaned_runs();
// Keeps the newest `keep` records of each job. Returns how many were deleted.
uint64_t prune_runs(int keep);

}  // namespace rollup::scheduler
