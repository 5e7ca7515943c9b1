// The scheduler worker: one per server, in rollup.scheduler_database.
//
// Every loop (at most 1 s apart, sooner when a run is due) it opens a fresh transaction, re-reads the
// active jobs (so schedule changes apply within a second), collects finished runs, starts due runs
// each in its own "rollup job" background worker, records skipped ticks of jobs still running, and
// prunes old run records. Run records are written in the loop's own transaction, never in the job's.
// It must never run a job's command itself, and never lose track of a run it started: a run whose
// worker stopped without a final status is marked failed (or timed out, if we terminated it).
//
// Next-fire times live in memory: after a restart, ticks missed while the server was down are not
// replayed. Interval jobs fire at changed + k * interval; cron jobs follow rollup.timezone.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/cron.hpp"
#include "scheduler/catalog.hpp"
#include "transaction/remote_transaction.hpp"

extern "C" PGDLLEXPORT void rollup_scheduler_main(Datum arg);

namespace rollup::scheduler {
namespace {

using rollup::pg::call;

constexpr int64_t kTimeoutGraceMs = 5000;     // after statement_timeout, we terminate the worker
constexpr int64_t kMaxBackoffMs = 3600 * 1000;
constexpr int64_t kPruneEveryMs = 10 * 1000;
constexpr int64_t kRecoverEveryMs = 30 * 1000;  // two-phase commit recovery

class PgTimeZone final : public core::TimeZone {
public:
    explicit PgTimeZone(const pg_tz *tz) : tz_(tz) {}
    int64_t utc_offset(int64_t t) const override {
        pg_time_t pt = static_cast<pg_time_t>(t);
        const struct pg_tm *tm = pg_localtime(&pt, tz_);
        return tm ? tm->tm_gmtoff : 0;
    }

private:
    const pg_tz *tz_;
};

struct JobState {
    std::string schedule;
    int64_t changed_s = 0;
    bool valid = false;
    core::Schedule sched;
    int64_t next_fire_s = core::kNever;
    int64_t retry_at_ms = 0;  // 0: no retry pending
    int retry_attempt = 0;
};

struct RunState {
    int64_t jobid;
    int attempt;
    int retries;
    int64_t backoff_ms;
    BackgroundWorkerHandle *handle;  // in TopMemoryContext
    int64_t started_ms;
    int64_t timeout_ms;
    bool terminated;
};

struct PendingStart {
    RunRequest req;
    std::string job_name;
    int attempt, retries;
    int64_t backoff_ms;
};

// ---- PostgreSQL-side helpers (POD frames) ----

const char *check_owner_can_run(Oid owner) {
    HeapTuple tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(owner));
    if (!HeapTupleIsValid(tup)) return psprintf("the job's owner (role oid %u) no longer exists", owner);
    Form_pg_authid role = reinterpret_cast<Form_pg_authid>(GETSTRUCT(tup));
    bool can_login = role->rolcanlogin;
    char *name = pstrdup(NameStr(role->rolname));
    ReleaseSysCache(tup);
    if (!can_login)
        return psprintf("role \"%s\" owns this job but cannot log in (ALTER ROLE %s LOGIN)", name,
                        quote_identifier(name));
    return nullptr;
}

BackgroundWorkerHandle *register_run_worker(const RunRequest *req) {
    char name[BGW_MAXLEN];
    snprintf(name, sizeof name, "rollup job %lld run %lld", (long long) req->jobid, (long long) req->runid);
    return start_rollup_worker("rollup_job_worker_main", name, "rollup job", req, sizeof *req);
}

void log_message(int level, const char *msg) { elog(level, "rollup scheduler: %s", msg); }

int64_t backoff_ms(int64_t base, int attempt) {
    int64_t d = std::max<int64_t>(base, 1);
    for (int i = 1; i < attempt && d < kMaxBackoffMs; i++) d *= 2;
    return std::min(d, kMaxBackoffMs);
}

// ---- the loop ----

class Scheduler {
public:
    Scheduler() {
        loop_cxt_ = call([] {
            return AllocSetContextCreate(TopMemoryContext, "rollup scheduler loop", ALLOCSET_DEFAULT_SIZES);
        });
    }

    [[noreturn]] void run() {
        resolve_time_zone();
        for (;;) {
            call([] { CHECK_FOR_INTERRUPTS(); });
            if (ConfigReloadPending) {
                ConfigReloadPending = false;
                call([] { ProcessConfigFile(PGC_SIGHUP); });
                resolve_time_zone();
                for (auto &kv : jobs_) kv.second.schedule.clear();  // recompute next fires
            }
            int64_t wait_ms = 1000;
            std::string error;
            try {
                if (enable_scheduler) wait_ms = iterate();
            } catch (const std::exception &e) {
                error = e.what();
            }
            if (!error.empty()) {
                call([] { AbortCurrentTransaction(); });
                call([&] { log_message(WARNING, error.c_str()); });
                wait_ms = 1000;
            }
            if (enable_scheduler && extension_seen_) recover_two_phase();
            call([&] {
                (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                                 static_cast<long>(wait_ms), PG_WAIT_EXTENSION);
                ResetLatch(MyLatch);
            });
        }
    }

private:
    // Resolves prepared transactions a crash left on the nodes (see remote_transaction.hpp), in a
    // transaction of its own, every kRecoverEveryMs.
    void recover_two_phase() {
        const int64_t now_ms = unix_now_ms();
        if (now_ms - last_recovery_ms_ < kRecoverEveryMs) return;
        last_recovery_ms_ = now_ms;
        std::string error;
        int resolved = 0;
        CatalogUser cu;
        call([&] { open_txn(cu); });
        try {
            resolved = xact::recover_prepared();
            call([&] { close_txn(cu); });
        } catch (const std::exception &e) {
            error = e.what();
        }
        if (!error.empty()) {
            call([] { AbortCurrentTransaction(); });
            std::string msg = "two-phase commit recovery failed: " + error;
            call([&] { log_message(WARNING, msg.c_str()); });
        } else if (resolved > 0) {
            std::string msg = "resolved " + std::to_string(resolved) + " prepared transaction(s) left on the nodes";
            call([&] { log_message(LOG, msg.c_str()); });
        }
    }

    void resolve_time_zone() {
        const char *name = timezone_name ? timezone_name : "";
        tz_ = name[0] ? call([&] { return pg_tzset(name); }) : nullptr;
        if (!tz_) tz_ = session_timezone;
    }

    // One pass; returns how long to sleep (ms).
    int64_t iterate() {
        const int64_t now_ms = unix_now_ms();
        const int64_t now_s = now_ms / 1000;
        const PgTimeZone tz(tz_);
        call([&] { MemoryContextReset(loop_cxt_); });

        CatalogUser cu;
        call([&] { open_txn(cu); });
        if (!call([] { return extension_exists(); })) {
            call([&] { close_txn(cu); });
            if (!logged_waiting_)
                call([] { log_message(LOG, "waiting for CREATE EXTENSION rollup in this database"); });
            logged_waiting_ = true;
            extension_seen_ = false;
            jobs_.clear();
            return 1000;
        }
        logged_waiting_ = false;
        if (!extension_seen_) {
            uint64_t n = call([] { return fail_orphaned_runs(); });
            if (n > 0) {
                std::string msg = "marked " + std::to_string(n) + " interrupted run(s) as failed";
                call([&] { log_message(LOG, msg.c_str()); });
            }
            extension_seen_ = true;
        }

        collect_finished_runs(now_ms);

        JobRow *rows = nullptr;
        int n = call([&] { return load_jobs(&rows, loop_cxt_); });
        // A new or changed job's next tick is computed from the previous loop, so that an instant
        // between the two loops is not lost (bounded, so a long pause does not replay much).
        sync_jobs(rows, n, std::max(prev_loop_s_, now_s - 2), tz);
        prev_loop_s_ = now_s;

        std::set<int64_t> tracked;
        for (const auto &kv : runs_) tracked.insert(kv.second.jobid);
        std::vector<PendingStart> starts;
        for (int i = 0; i < n; i++) {
            const JobRow &row = rows[i];
            JobState &st = jobs_[row.jobid];
            bool running = tracked.count(row.jobid) > 0;
            if (!running && row.running_runid != 0) {
                // A run this process did not start (the scheduler restarted while it ran).
                bool alive = row.running_pid != 0 &&
                             call([&] { return BackendPidGetProc(row.running_pid) != nullptr; });
                if (alive) {
                    running = true;
                } else {
                    call([&] {
                        finish_run(row.running_runid, "failed", 0, true,
                                   "the run was cut short: its worker exited (server restart or crash)",
                                   true);
                    });
                }
            }
            int attempt = 0;
            if (st.valid && st.next_fire_s != core::kNever && now_s >= st.next_fire_s) {
                st.next_fire_s = st.sched.next_after(now_s, tz, st.changed_s);
                if (running) {
                    int64_t other = row.running_runid;
                    for (const auto &kv : runs_)
                        if (kv.second.jobid == row.jobid) other = kv.first;
                    std::string msg = "the previous run (runid " + std::to_string(other) + ") is still running";
                    call([&] { insert_run(row.jobid, row.job_name, row.owner, 1, "skipped", msg.c_str()); });
                } else {
                    attempt = 1;
                }
            } else if (st.retry_at_ms != 0 && now_ms >= st.retry_at_ms && !running) {
                attempt = st.retry_attempt;
            }
            if (attempt == 0) continue;
            st.retry_at_ms = 0;
            const char *problem = call([&] { return check_owner_can_run(row.owner); });
            if (problem) {
                call([&] { insert_run(row.jobid, row.job_name, row.owner, attempt, "failed", problem); });
                continue;
            }
            int64_t runid = call([&] {
                return insert_run(row.jobid, row.job_name, row.owner, attempt, "running", nullptr);
            });
            PendingStart p;
            p.req = RunRequest{runid, row.jobid, MyDatabaseId, row.owner, row.timeout_ms};
            p.job_name = row.job_name;
            p.attempt = attempt;
            p.retries = row.retries;
            p.backoff_ms = row.backoff_ms;
            starts.push_back(p);
        }

        if (now_ms - last_prune_ms_ >= kPruneEveryMs) {
            int keep = job_run_history;
            call([&] { prune_runs(keep); });
            last_prune_ms_ = now_ms;
        }
        call([&] { close_txn(cu); });

        // The 'running' records are committed: start the workers.
        std::vector<int64_t> not_started;
        for (const PendingStart &p : starts) {
            BackgroundWorkerHandle *h = call([&] { return register_run_worker(&p.req); });
            if (!h) {
                not_started.push_back(p.req.runid);
                continue;
            }
            runs_[p.req.runid] = RunState{p.req.jobid, p.attempt, p.retries, p.backoff_ms, h, now_ms,
                                          p.req.timeout_ms, false};
        }
        if (!not_started.empty()) {
            std::string msg = "could not start a background worker: all max_worker_processes (" +
                              std::to_string(max_worker_processes) + ") slots are in use";
            call([&] { open_txn(cu); });
            for (int64_t runid : not_started)
                call([&] { finish_run(runid, "failed", 0, true, msg.c_str(), true); });
            call([&] { close_txn(cu); });
        }

        // Sleep until the next due time, at most 1 s (to notice catalog changes).
        int64_t wake_ms = now_ms + 1000;
        for (const auto &kv : jobs_) {
            if (kv.second.next_fire_s != core::kNever) wake_ms = std::min(wake_ms, kv.second.next_fire_s * 1000);
            if (kv.second.retry_at_ms) wake_ms = std::min(wake_ms, kv.second.retry_at_ms);
        }
        return std::max<int64_t>(10, wake_ms - unix_now_ms());
    }

    // Runs whose worker has stopped: make sure they have a final status, and plan retries.
    void collect_finished_runs(int64_t now_ms) {
        for (auto it = runs_.begin(); it != runs_.end();) {
            const int64_t runid = it->first;
            RunState &r = it->second;
            pid_t pid;
            BgwHandleStatus st = call([&] { return GetBackgroundWorkerPid(r.handle, &pid); });
            if (st != BGWH_STOPPED) {
                if (r.timeout_ms > 0 && !r.terminated && now_ms > r.started_ms + r.timeout_ms + kTimeoutGraceMs) {
                    call([&] { TerminateBackgroundWorker(r.handle); });
                    r.terminated = true;
                }
                ++it;
                continue;
            }
            char *raw = call([&] { return run_status(runid); });
            std::string status = raw ? raw : "";
            if (status == "running") {
                status = r.terminated ? "timed out" : "failed";
                const char *msg = r.terminated
                                      ? "the run exceeded its timeout and its worker was terminated"
                                      : "the job worker exited without recording a result (see the server log)";
                call([&] { finish_run(runid, status.c_str(), 0, true, msg, true); });
            }
            auto job = jobs_.find(r.jobid);
            if (job != jobs_.end()) {
                if ((status == "failed" || status == "timed out") && r.attempt <= r.retries) {
                    job->second.retry_at_ms = now_ms + backoff_ms(r.backoff_ms, r.attempt);
                    job->second.retry_attempt = r.attempt + 1;
                } else {
                    job->second.retry_at_ms = 0;
                }
            }
            BackgroundWorkerHandle *h = r.handle;
            call([&] { pfree(h); });
            it = runs_.erase(it);
        }
    }

    void sync_jobs(const JobRow *rows, int n, int64_t after_s, const core::TimeZone &tz) {
        std::map<int64_t, JobState> next;
        for (int i = 0; i < n; i++) {
            const JobRow &row = rows[i];
            auto old = jobs_.find(row.jobid);
            JobState st = old != jobs_.end() ? old->second : JobState{};
            if (old == jobs_.end() || st.schedule != row.schedule || st.changed_s != row.changed_s) {
                st.schedule = row.schedule;
                st.changed_s = row.changed_s;
                std::string problem;
                try {
                    st.sched = core::Schedule::parse(st.schedule);
                    st.valid = true;
                } catch (const core::ScheduleError &e) {
                    st.valid = false;
                    problem = std::string("job ") + std::to_string(row.jobid) + " has an invalid schedule \"" +
                              st.schedule + "\": " + e.what();
                }
                if (!problem.empty()) call([&] { log_message(WARNING, problem.c_str()); });
                st.next_fire_s = st.valid ? st.sched.next_after(after_s, tz, st.changed_s) : core::kNever;
            }
            next[row.jobid] = std::move(st);
        }
        jobs_.swap(next);
    }

    std::map<int64_t, JobState> jobs_;
    std::map<int64_t, RunState> runs_;  // runs started by this process, by runid
    const pg_tz *tz_ = nullptr;
    bool extension_seen_ = false;
    bool logged_waiting_ = false;
    int64_t last_prune_ms_ = 0;
    int64_t prev_loop_s_ = 0;
    int64_t last_recovery_ms_ = 0;
    MemoryContext loop_cxt_;
};

void scheduler_main() {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    char db[NAMEDATALEN];
    strlcpy(db, MyBgworkerEntry->bgw_extra, sizeof db);
    BackgroundWorkerInitializeConnection(db, nullptr, 0);
    pgstat_report_appname("rollup scheduler");
    elog(LOG, "rollup scheduler started in database \"%s\"", db);
}

}  // namespace
}  // namespace rollup::scheduler

extern "C" void rollup_scheduler_main(Datum arg) {
    rollup::pg::guard([&] {
        rollup::scheduler::scheduler_main();
        rollup::scheduler::Scheduler s;
        s.run();
    });
}
