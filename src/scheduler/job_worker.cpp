// The job worker: one background worker per run, connected to the job's database as the job's owner.
//
// It records its pid on the run, runs the command like a simple-query message (each statement parsed,
// planned and run through a portal, all in one transaction; a single CALL may COMMIT inside its
// procedure), under statement_timeout when the job has a timeout, and records the outcome in a
// transaction of its own. It never runs as anyone but the owner: only the catalog updates switch to
// the bootstrap superuser, and back.
//
// Everything here calls PostgreSQL directly, so frames hold only PODs and palloc'd pointers.
#include <cstdint>
#include <cstring>

#include "scheduler/catalog.hpp"

extern "C" PGDLLEXPORT void rollup_job_worker_main(Datum arg);

namespace rollup::scheduler {
namespace {

struct Outcome {
    bool ok;
    bool timed_out;
    int64_t rows;
    char *message;  // TopMemoryContext
};

// Sets our pid on the run and returns the job's command (TopMemoryContext), or nullptr if the job
// was unscheduled meanwhile.
char *claim_run(const RunRequest *req) {
    Oid types[3] = {INT8OID, INT4OID, INT8OID};
    Datum values[3] = {Int64GetDatum(req->runid), Int32GetDatum(MyProcPid), Int64GetDatum(req->jobid)};
    int rc = SPI_execute_with_args(
        "UPDATE rollup.job_run SET pid = $2 WHERE runid = $1"
        " RETURNING (SELECT j.command FROM rollup.job j WHERE j.jobid = $3)",
        3, types, values, nullptr, false, 0);
    if (rc != SPI_OK_UPDATE_RETURNING) elog(ERROR, "could not claim run %lld", (long long) req->runid);
    if (SPI_processed == 0) return nullptr;
    char *cmd = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
    return cmd ? MemoryContextStrdup(TopMemoryContext, cmd) : nullptr;
}

// Runs `sql` the way exec_simple_query does, in the current transaction. Sets *rows to the row count
// of the last statement. (After pg_cron's ExecuteSqlString.)
void execute_sql_string(const char *sql, int64_t *rows) {
    MemoryContext parsecxt =
        AllocSetContextCreate(TopMemoryContext, "rollup job parse context", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(parsecxt);
    List *parsetrees = pg_parse_query(sql);
    MemoryContextSwitchTo(old);
    bool top_level = list_length(parsetrees) == 1;
    ListCell *lc;
    *rows = 0;
    foreach (lc, parsetrees) {
        RawStmt *parsetree = lfirst_node(RawStmt, lc);
        if (IsA(parsetree->stmt, TransactionStmt))
            ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                            errmsg("transaction control statements are not allowed in a job's command"),
                            errhint("A job's command runs in one transaction; a procedure it CALLs may COMMIT.")));
        CommandTag tag = CreateCommandTag(parsetree->stmt);
        set_ps_display(GetCommandTagName(tag));
        bool snapshot_set = false;
        if (analyze_requires_snapshot(parsetree)) {
            PushActiveSnapshot(GetTransactionSnapshot());
            snapshot_set = true;
        }
        old = MemoryContextSwitchTo(parsecxt);
        List *queries = pg_analyze_and_rewrite_fixedparams(parsetree, sql, nullptr, 0, nullptr);
        List *plans = pg_plan_queries(queries, sql, CURSOR_OPT_PARALLEL_OK, nullptr);
        if (snapshot_set) PopActiveSnapshot();
        CHECK_FOR_INTERRUPTS();
        Portal portal = CreatePortal("", true, true);
        portal->visible = false;
        PortalDefineQuery(portal, nullptr, sql, tag, plans, nullptr);
        PortalStart(portal, nullptr, 0, InvalidSnapshot);
        int16 format = 0;
        PortalSetResultFormat(portal, 1, &format);
        DestReceiver *receiver = CreateDestReceiver(DestNone);
        MemoryContextSwitchTo(old);
        QueryCompletion qc;
        InitializeQueryCompletion(&qc);
        (void) PortalRun(portal, FETCH_ALL, top_level, true, receiver, receiver, &qc);
        receiver->rDestroy(receiver);
        PortalDrop(portal, false);
        *rows = static_cast<int64_t>(qc.nprocessed);
    }
    CommandCounterIncrement();
    MemoryContextDelete(parsecxt);
}

void run_command(const char *sql, int64_t timeout_ms, Outcome *out) {
    ErrorData *volatile edata = nullptr;
    volatile int64_t rows = 0;
    const int64_t started_ms = unix_now_ms();

    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    reported_rows = -1;
    debug_query_string = sql;
    pgstat_report_activity(STATE_RUNNING, sql);
    PG_TRY();
    {
        if (timeout_ms > 0) enable_timeout_after(STATEMENT_TIMEOUT, static_cast<int>(timeout_ms));
        int64_t n = 0;
        execute_sql_string(sql, &n);
        rows = n;
        if (timeout_ms > 0) disable_timeout(STATEMENT_TIMEOUT, false);
        CommitTransactionCommand();
    }
    PG_CATCH();
    {
        HOLD_INTERRUPTS();
        disable_all_timeouts(false);
        QueryCancelPending = false;
        MemoryContextSwitchTo(TopMemoryContext);
        edata = CopyErrorData();
        FlushErrorState();
        AbortCurrentTransaction();
        RESUME_INTERRUPTS();
    }
    PG_END_TRY();
    debug_query_string = nullptr;
    pgstat_report_activity(STATE_IDLE, nullptr);

    out->ok = edata == nullptr;
    out->rows = reported_rows >= 0 ? reported_rows : rows;
    out->timed_out = false;
    out->message = nullptr;
    if (edata) {
        out->timed_out = edata->sqlerrcode == ERRCODE_QUERY_CANCELED && timeout_ms > 0 &&
                         unix_now_ms() - started_ms >= timeout_ms;
        out->message = MemoryContextStrdup(TopMemoryContext, edata->message ? edata->message : "unknown error");
    }
}

void job_worker_main() {
    RunRequest req;
    memcpy(&req, MyBgworkerEntry->bgw_extra, sizeof req);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnectionByOid(req.dboid, req.owner, 0);
    pgstat_report_appname(psprintf("rollup job %lld", (long long) req.jobid));

    CatalogUser cu;
    open_txn(cu);
    char *command = claim_run(&req);
    close_txn(cu);
    if (!command) {
        open_txn(cu);
        finish_run(req.runid, "failed", 0, true, "the job was unscheduled before the run started", false);
        close_txn(cu);
        return;
    }

    Outcome out;
    run_command(command, req.timeout_ms, &out);
    const char *status = out.ok ? "succeeded" : out.timed_out ? "timed out" : "failed";
    if (!out.ok)
        elog(LOG, "rollup job %lld (run %lld) %s: %s", (long long) req.jobid, (long long) req.runid,
             status, out.message);

    open_txn(cu);
    finish_run(req.runid, status, out.rows, !out.ok, out.message, false);
    close_txn(cu);
}

}  // namespace
}  // namespace rollup::scheduler

extern "C" void rollup_job_worker_main(Datum arg) {
    rollup::pg::guard([&] { rollup::scheduler::job_worker_main(); });
}
