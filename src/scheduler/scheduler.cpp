// Scheduler set-up and the launcher.
//
// Processes (all background workers):
//  * "rollup scheduler launcher": static, registered in _PG_init, connected to no database. It
//    starts one "rollup scheduler" worker for rollup.scheduler_database once that database exists,
//    restarts it if it exits, and switches it when the GUC changes (SIGHUP) or rollup.enable_scheduler
//    is turned off. Being database-less, it can wait quietly for the database to be created.
//  * "rollup scheduler" (job_loop.cpp): dynamic, connected to the database; waits for CREATE
//    EXTENSION rollup, then reads rollup.job every loop and starts due runs.
//  * "rollup job" (job_worker.cpp): dynamic, one per run, connected as the job's owner.
#include <cstring>

#include "scheduler/scheduler.hpp"
#include "scheduler/internal.hpp"

namespace rollup::scheduler {

bool enable_scheduler = true;
char *scheduler_database = nullptr;
char *timezone_name = nullptr;
int job_run_history = 1000;
bool loaded_at_startup = false;
int64_t reported_rows = -1;

void report_rows(int64_t rows) { reported_rows = rows; }

int64_t unix_now_ms() {
    // TimestampTz counts microseconds from 2000-01-01.
    return GetCurrentTimestamp() / 1000 +
           int64_t(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
}

// ---- GUCs ----

static bool check_timezone_name(char **newval, void **extra, GucSource source) {
    if (*newval == nullptr || (*newval)[0] == '\0') return true;
    if (pg_tzset(*newval) == nullptr) {
        GUC_check_errmsg("time zone \"%s\" is not known", *newval);
        GUC_check_errhint("Use a name from pg_timezone_names, or an empty string for the server's TimeZone.");
        return false;
    }
    return true;
}

}  // namespace rollup::scheduler

extern "C" {
static bool rollup_check_timezone_name(char **newval, void **extra, GucSource source) {
    return rollup::pg::guard([&] { return rollup::scheduler::check_timezone_name(newval, extra, source); });
}
PGDLLEXPORT void rollup_scheduler_launcher_main(Datum arg);
}

namespace rollup::scheduler {

int testing_expire_pause_lock = 0;  // retention.cpp

static void define_gucs() {
    DefineCustomIntVariable("rollup.testing_expire_pause_lock",
                            "Testing only: expiry waits for this advisory lock between computing its limit and deleting.",
                            "0 (the default) never waits.", &testing_expire_pause_lock, 0, 0, INT_MAX, PGC_SUSET,
                            GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
    DefineCustomBoolVariable(
        "rollup.enable_scheduler", "Runs the jobs of rollup.schedule and the retention policies.",
        "Needs rollup in shared_preload_libraries. Turning it off stops starting new runs.",
        &enable_scheduler, true, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable(
        "rollup.scheduler_database", "The database whose rollup.jobs the scheduler runs.",
        "The scheduler waits quietly until this database exists and has the rollup extension.",
        &scheduler_database, "postgres", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable(
        "rollup.timezone", "Time zone of cron schedules.",
        "Empty: the server's TimeZone setting. Interval schedules do not depend on it.",
        &timezone_name, "", PGC_SIGHUP, 0, rollup_check_timezone_name, nullptr, nullptr);
    DefineCustomIntVariable(
        "rollup.job_run_history", "Number of rollup.job_runs records kept per job.",
        "Older records are deleted by the scheduler.", &job_run_history, 1000, 1, 1000000,
        PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
}

static void register_launcher() {
    BackgroundWorker w;
    std::memset(&w, 0, sizeof w);
    w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    w.bgw_start_time = BgWorkerStart_RecoveryFinished;
    w.bgw_restart_time = 5;
    snprintf(w.bgw_library_name, BGW_MAXLEN, "rollup");
    snprintf(w.bgw_function_name, BGW_MAXLEN, "rollup_scheduler_launcher_main");
    snprintf(w.bgw_name, BGW_MAXLEN, "rollup scheduler launcher");
    snprintf(w.bgw_type, BGW_MAXLEN, "rollup scheduler launcher");
    RegisterBackgroundWorker(&w);
}

void init() {
    define_gucs();
    if (process_shared_preload_libraries_in_progress) {
        loaded_at_startup = true;
        register_launcher();
    }
}

// ---- the launcher (no database) ----

// Without a database only the nailed shared catalogs can be read, and not through their indexes:
// a heap scan of pg_database, as the autovacuum launcher does.
static bool database_exists(const char *name) {
    StartTransactionCommand();
    Relation rel = table_open(DatabaseRelationId, AccessShareLock);
    TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
    bool found = false;
    HeapTuple tup;
    while (!found && (tup = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
        Form_pg_database db = reinterpret_cast<Form_pg_database>(GETSTRUCT(tup));
        found = strcmp(NameStr(db->datname), name) == 0 && db->datallowconn;
    }
    table_endscan(scan);
    table_close(rel, AccessShareLock);
    CommitTransactionCommand();
    return found;
}

BackgroundWorkerHandle *start_rollup_worker(const char *function, const char *name, const char *type,
                                            const void *extra, size_t extra_len) {
    BackgroundWorker w;
    std::memset(&w, 0, sizeof w);
    w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    w.bgw_start_time = BgWorkerStart_RecoveryFinished;
    w.bgw_restart_time = BGW_NEVER_RESTART;
    snprintf(w.bgw_library_name, BGW_MAXLEN, "rollup");
    snprintf(w.bgw_function_name, BGW_MAXLEN, "%s", function);
    snprintf(w.bgw_name, BGW_MAXLEN, "%s", name);
    snprintf(w.bgw_type, BGW_MAXLEN, "%s", type);
    std::memcpy(w.bgw_extra, extra, extra_len);
    w.bgw_notify_pid = MyProcPid;
    BackgroundWorkerHandle *handle = nullptr;
    MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
    bool ok = RegisterDynamicBackgroundWorker(&w, &handle);
    MemoryContextSwitchTo(old);
    return ok ? handle : nullptr;
}

static BackgroundWorkerHandle *start_scheduler_worker(const char *dbname) {
    char name[BGW_MAXLEN];
    snprintf(name, sizeof name, "rollup scheduler for database %s", dbname);
    // bgw_extra carries the database name, NUL-terminated (start_rollup_worker zeroes the rest)
    return start_rollup_worker("rollup_scheduler_main", name, "rollup scheduler", dbname,
                               std::min(std::strlen(dbname), size_t(BGW_EXTRALEN - 1)));
}

// The databases other than `skip` that accept connections (not templates), into `out` (at most
// `max` names); returns how many.
static int other_databases(const char *skip, char (*out)[NAMEDATALEN], int max) {
    StartTransactionCommand();
    Relation rel = table_open(DatabaseRelationId, AccessShareLock);
    TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
    int n = 0;
    HeapTuple tup;
    while (n < max && (tup = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
        Form_pg_database db = reinterpret_cast<Form_pg_database>(GETSTRUCT(tup));
        if (!db->datallowconn || db->datistemplate || strcmp(NameStr(db->datname), skip) == 0) continue;
        strlcpy(out[n++], NameStr(db->datname), NAMEDATALEN);
    }
    table_endscan(scan);
    table_close(rel, AccessShareLock);
    CommitTransactionCommand();
    return n;
}

constexpr int64_t kRecoveryRoundMs = 30000;
constexpr int kMaxRecoveryDatabases = 256;

// POD-only frame: errors here end the launcher (FATAL), and the postmaster restarts it in 5 s.
static void launcher_main() {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);

    BackgroundWorkerHandle *handle = nullptr;
    char running_db[NAMEDATALEN] = "";
    char waited_for[NAMEDATALEN] = "";
    int64_t last_start_ms = 0;
    // Recovery in the other databases: one worker at a time, a round every kRecoveryRoundMs.
    static char recovery_dbs[kMaxRecoveryDatabases][NAMEDATALEN];
    int recovery_count = 0, recovery_next = 0;
    int64_t last_round_ms = 0;
    BackgroundWorkerHandle *recovery = nullptr;

    for (;;) {
        CHECK_FOR_INTERRUPTS();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
        const char *want = (enable_scheduler && scheduler_database) ? scheduler_database : "";

        if (handle) {
            pid_t pid;
            if (GetBackgroundWorkerPid(handle, &pid) == BGWH_STOPPED) {
                pfree(handle);
                handle = nullptr;
                running_db[0] = '\0';
            } else if (std::strcmp(want, running_db) != 0) {
                elog(LOG, "rollup scheduler: stopping the scheduler of database \"%s\"", running_db);
                TerminateBackgroundWorker(handle);
            }
        }
        // Restart at most every 5 s, so that a scheduler failing at start does not spin.
        if (!handle && want[0] && unix_now_ms() - last_start_ms >= 5000) {
            if (database_exists(want)) {
                handle = start_scheduler_worker(want);
                last_start_ms = unix_now_ms();
                if (handle) {
                    strlcpy(running_db, want, sizeof running_db);
                    waited_for[0] = '\0';
                } else {
                    elog(WARNING, "rollup scheduler: could not start a background worker "
                                  "(max_worker_processes is %d)", max_worker_processes);
                }
            } else if (std::strcmp(waited_for, want) != 0) {
                elog(LOG, "rollup scheduler: waiting for database \"%s\" (rollup.scheduler_database) "
                          "to be created", want);
                strlcpy(waited_for, want, sizeof waited_for);
            }
        }
        if (recovery) {
            pid_t pid;
            if (GetBackgroundWorkerPid(recovery, &pid) == BGWH_STOPPED) {
                pfree(recovery);
                recovery = nullptr;
            }
        }
        if (!recovery && enable_scheduler) {
            if (recovery_next >= recovery_count && unix_now_ms() - last_round_ms >= kRecoveryRoundMs) {
                recovery_count = other_databases(want, recovery_dbs, kMaxRecoveryDatabases);
                recovery_next = 0;
                last_round_ms = unix_now_ms();
            }
            if (recovery_next < recovery_count) {
                const char *db = recovery_dbs[recovery_next++];
                char name[BGW_MAXLEN];
                snprintf(name, sizeof name, "rollup recovery for database %s", db);
                recovery = start_rollup_worker("rollup_recovery_main", name, "rollup recovery", db,
                                               std::min(std::strlen(db), size_t(BGW_EXTRALEN - 1)));
            }
        }
        (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
    }
}

}  // namespace rollup::scheduler

extern "C" void rollup_scheduler_launcher_main(Datum arg) {
    rollup::pg::guard([&] { rollup::scheduler::launcher_main(); });
}
