#include <cstdint>

#include "scheduler/catalog.hpp"

namespace rollup::scheduler {

void open_txn(CatalogUser &saved) {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    PushActiveSnapshot(GetTransactionSnapshot());
    become_catalog_owner(saved);
}

void close_txn(const CatalogUser &saved) {
    restore_user(saved);
    SPI_finish();
    PopActiveSnapshot();
    CommitTransactionCommand();
}

bool extension_exists() { return OidIsValid(get_extension_oid("rollup", true)); }

static void exec(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls, int expect) {
    int rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
    if (rc != expect) elog(ERROR, "rollup scheduler: catalog statement failed (%s): %s",
                           SPI_result_code_string(rc), sql);
}

static int64_t get_int8(int row, int col, int64_t if_null) {
    bool isnull;
    Datum d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);
    if (isnull) return if_null;
    switch (SPI_gettypeid(SPI_tuptable->tupdesc, col)) {
        case INT4OID: return DatumGetInt32(d);
        case OIDOID: return DatumGetObjectId(d);
        default: return DatumGetInt64(d);
    }
}

static char *get_text(int row, int col, MemoryContext cxt) {
    char *v = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
    return v ? MemoryContextStrdup(cxt, v) : nullptr;
}

int load_jobs(JobRow **rows, MemoryContext cxt) {
    exec("SELECT j.jobid, j.job_name, j.schedule, j.owner, j.database::text,"
         "       (extract(epoch FROM j.timeout) * 1000)::bigint, j.retries,"
         "       (extract(epoch FROM j.retry_backoff) * 1000)::bigint,"
         "       floor(extract(epoch FROM j.changed))::bigint,"
         "       r.runid, r.pid"
         "  FROM rollup.job j LEFT JOIN LATERAL"
         "       (SELECT r.runid, r.pid FROM rollup.job_run r WHERE r.jobid = j.jobid AND r.status = 'running'"
         "         ORDER BY r.runid DESC LIMIT 1) r ON true"
         " WHERE j.active AND j.database = current_database() ORDER BY j.jobid",
         0, nullptr, nullptr, nullptr, SPI_OK_SELECT);
    int n = static_cast<int>(SPI_processed);
    JobRow *out = static_cast<JobRow *>(MemoryContextAllocZero(cxt, sizeof(JobRow) * (n + 1)));
    for (int i = 0; i < n; i++) {
        out[i].jobid = get_int8(i, 1, 0);
        out[i].job_name = get_text(i, 2, cxt);
        out[i].schedule = get_text(i, 3, cxt);
        out[i].owner = static_cast<Oid>(get_int8(i, 4, 0));
        out[i].database = get_text(i, 5, cxt);
        out[i].timeout_ms = get_int8(i, 6, 0);
        out[i].retries = static_cast<int>(get_int8(i, 7, 0));
        out[i].backoff_ms = get_int8(i, 8, 1000);
        out[i].changed_s = get_int8(i, 9, 0);
        out[i].running_runid = get_int8(i, 10, 0);
        out[i].running_pid = static_cast<int>(get_int8(i, 11, 0));
    }
    *rows = out;
    return n;
}

int64_t insert_run(int64_t jobid, const char *job_name, Oid owner, int attempt, const char *status,
                   const char *message) {
    Oid types[6] = {INT8OID, TEXTOID, OIDOID, INT4OID, TEXTOID, TEXTOID};
    Datum values[6] = {Int64GetDatum(jobid), CStringGetTextDatum(job_name), ObjectIdGetDatum(owner),
                       Int32GetDatum(attempt), CStringGetTextDatum(status),
                       message ? CStringGetTextDatum(message) : (Datum) 0};
    char nulls[7] = "      ";
    if (!message) nulls[5] = 'n';
    exec("INSERT INTO rollup.job_run (jobid, job_name, owner, attempt, status, message, finished)"
         " VALUES ($1, $2, $3, $4, $5, $6,"
         "         CASE WHEN $5 = 'running' THEN NULL ELSE clock_timestamp() END) RETURNING runid",
         6, types, values, nulls, SPI_OK_INSERT_RETURNING);
    return get_int8(0, 1, 0);
}

void finish_run(int64_t runid, const char *status, int64_t rows, bool rows_null, const char *message,
                bool only_if_running) {
    Oid types[4] = {INT8OID, TEXTOID, INT8OID, TEXTOID};
    Datum values[4] = {Int64GetDatum(runid), CStringGetTextDatum(status), Int64GetDatum(rows),
                       message ? CStringGetTextDatum(message) : (Datum) 0};
    char nulls[5] = "    ";
    if (rows_null) nulls[2] = 'n';
    if (!message) nulls[3] = 'n';
    exec(only_if_running
             ? "UPDATE rollup.job_run SET status = $2, rows = $3, message = $4,"
               " finished = clock_timestamp() WHERE runid = $1 AND status = 'running'"
             : "UPDATE rollup.job_run SET status = $2, rows = $3, message = $4,"
               " finished = clock_timestamp() WHERE runid = $1",
         4, types, values, nulls, SPI_OK_UPDATE);
}

char *run_status(int64_t runid) {
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(runid)};
    exec("SELECT status FROM rollup.job_run WHERE runid = $1", 1, types, values, nullptr, SPI_OK_SELECT);
    if (SPI_processed == 0) return nullptr;
    return get_text(0, 1, CurrentMemoryContext);
}

uint64_t fail_orphaned_runs() {
    exec("UPDATE rollup.job_run SET status = 'failed', finished = clock_timestamp(),"
         "       message = 'the run was cut short: its worker exited (server restart or crash)'"
         " WHERE status = 'running' AND (pid IS NULL OR pid NOT IN"
         "       (SELECT a.pid FROM pg_catalog.pg_stat_activity a WHERE a.backend_type = 'rollup job'))",
         0, nullptr, nullptr, nullptr, SPI_OK_UPDATE);
    return SPI_processed;
}

uint64_t prune_runs(int keep) {
    Oid types[1] = {INT4OID};
    Datum values[1] = {Int32GetDatum(keep)};
    exec("DELETE FROM rollup.job_run r USING ("
         "   SELECT runid FROM (SELECT runid, row_number() OVER (PARTITION BY jobid ORDER BY runid DESC) AS n"
         "                        FROM rollup.job_run) s WHERE s.n > $1) old"
         " WHERE r.runid = old.runid AND r.status <> 'running'",
         1, types, values, nullptr, SPI_OK_DELETE);
    return SPI_processed;
}

}  // namespace rollup::scheduler
