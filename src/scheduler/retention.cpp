// Retention policies: rollup.set_retention / remove_retention / expire, and the procedure
// rollup.run_retention that the policy's job CALLs every minute.
//
// Expiry deletes rows whose time column is older than now() - keep in batches of kExpireBatch rows
// picked by ctid, so each statement is short; run_retention (CALLed outside a transaction block, as
// the scheduler does) also commits after every batch, so row locks and snapshots stay short too.
// On a distributed table each batch runs on every shard in parallel (one executor call per batch).
// The cutoff is computed in exactly one place, expiry_cutoff(): that is where the guard that never
// expires raw rows not yet rolled up belongs.
#include <cstdint>
#include <optional>
#include <string>

#include "core/rollup_plan.hpp"

#include "executor/shard_commands.hpp"
#include "pg/as_superuser.hpp"
#include "rollup/invalidations.hpp"
#include "scheduler/catalog.hpp"
#include "scheduler/scheduler.hpp"

namespace rollup::scheduler {

// From job_api.cpp.
int64_t schedule_job(const char *name, const char *schedule, const char *command, Oid owner,
                     FunctionCallInfo fcinfo, int timeout_arg, int retries_arg, int backoff_arg,
                     Oid retention_of);
void delete_job(int64_t jobid);

extern int testing_expire_pause_lock;  // scheduler.cpp

namespace {

using rollup::pg::throw_error;

constexpr int kExpireBatch = 10000;
const char *const kRetentionSchedule = "* * * * *";

struct Policy {
    char *time_column;  // palloc'd
    char *keep;         // interval, text form
};

void ensure_table_owner(Oid relid) {
    if (!pg_class_ownercheck(relid, GetUserId()))
        throw_error(sqlstate::insufficient_privilege,
                    std::string("must be owner of table ") + get_rel_name(relid), "",
                    "Only the table's owner or a superuser can set or run its retention policy.");
}

char *qualified_name(Oid relid) {
    char *nsp = get_namespace_name(get_rel_namespace(relid));
    return quote_qualified_identifier(nsp, get_rel_name(relid));
}

void spi_exec(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls, int expect) {
    int rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
    if (rc != expect) elog(ERROR, "rollup: statement failed (%s)", SPI_result_code_string(rc));
}

// Reads the policy as the catalog owner (SPI connected).
bool load_policy(Oid relid, Policy *p) {
    CatalogUser cu;
    become_catalog_owner(cu);
    Oid types[1] = {OIDOID};
    Datum values[1] = {ObjectIdGetDatum(relid)};
    spi_exec("SELECT time_column::text, keep::text FROM rollup.retention WHERE relid = $1", 1, types, values,
             nullptr, SPI_OK_SELECT);
    restore_user(cu);
    if (SPI_processed == 0) return false;
    p->time_column = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
    p->keep = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
    return true;
}

bool is_distributed(Oid relid) {
    Oid types[1] = {OIDOID};
    Datum values[1] = {ObjectIdGetDatum(relid)};
    spi_exec("SELECT to_regclass('rollup.dist_table') IS NOT NULL", 0, nullptr, nullptr, nullptr, SPI_OK_SELECT);
    bool isnull;
    if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull))) return false;
    CatalogUser cu;
    become_catalog_owner(cu);
    spi_exec("SELECT 1 FROM rollup.dist_table WHERE logicalrelid = $1::regclass", 1, types, values, nullptr,
             SPI_OK_SELECT);
    restore_user(cu);
    return SPI_processed > 0;
}

// rollup.testing_expire_pause_lock (scheduler.cpp): when set, expiry waits for that advisory lock
// (key) between computing its limit and deleting, so a test can commit a writer exactly there.
void testing_pause() {
    if (testing_expire_pause_lock == 0) return;
    const int64 key = testing_expire_pause_lock;
    rollup::pg::call([&] {
        DirectFunctionCall1(pg_advisory_lock_int8, Int64GetDatum(key));
        DirectFunctionCall1(pg_advisory_unlock_int8, Int64GetDatum(key));
    });
}

// The instant before which rows expire, as a timestamptz literal.
// THIS is where "never expire raw rows not yet rolled up" belongs (DESIGN.md section 4): once native
// rollups exist, clamp the cutoff to the oldest frontier of the rollups that read `relid`.
char *expiry_cutoff(Oid relid, const Policy &p) {
    // Printed as ISO 8601 with its offset, whatever the caller's DateStyle: the text goes into
    // statements that nodes read with their own settings.
    int save_style = DateStyle, save_order = DateOrder;
    DateStyle = USE_ISO_DATES;
    DateOrder = DATEORDER_YMD;
    PG_TRY();
    {
        Oid types[1] = {TEXTOID};
        Datum values[1] = {CStringGetTextDatum(p.keep)};
        spi_exec("SELECT (now() - $1::interval)::text", 1, types, values, nullptr, SPI_OK_SELECT);
    }
    PG_FINALLY();
    {
        DateStyle = save_style;
        DateOrder = save_order;
    }
    PG_END_TRY();
    return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

// One batch of expiry on one table (or shard): the statement is assembled from the quoted table
// name, the quoted column and the cutoff literal; data never becomes a format string (a column may
// be called "t%s"). Rows another transaction has locked are skipped (a later expiry takes them):
// expiry holds the rollups' run locks, which a writer of those rows needs at its pre-commit, so
// waiting for its row locks would deadlock.
std::string batch_delete_sql(const std::string &rel, const char *quoted_column, const char *cutoff_literal) {
    return "DELETE FROM " + rel + " WHERE ctid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT ctid FROM " + rel +
           " WHERE " + quoted_column + " < " + cutoff_literal + "::pg_catalog.timestamptz LIMIT " +
           std::to_string(kExpireBatch) + " FOR UPDATE SKIP LOCKED))";
}

// Deletes the expired rows of relid in batches (SPI connected; non-atomic when commit_each_batch).
int64_t expire_table(Oid relid, bool commit_each_batch) {
    ensure_table_owner(relid);
    Policy p;
    if (!load_policy(relid, &p))
        throw_error(sqlstate::object_not_in_prerequisite_state,
                    std::string("table ") + get_rel_name(relid) + " has no retention policy", "",
                    "Set one with rollup.set_retention(table, time_column, keep).");
    bool distributed = is_distributed(relid);
    // Never expire raw rows a rollup has not consumed yet, nor part of a bucket: the cutoff stops at
    // the frontier and pending ranges of the table's rollups, rounded down to their buckets, and
    // nothing expires before their first run (rollup/invalidations.hpp). expiry_limit() holds the
    // rollups' run locks until the transaction ends, so it is computed again in each transaction.
    auto current_cutoff = [&]() -> std::optional<std::string> {
        char *cutoff = expiry_cutoff(relid, p);
        if (!distributed) return std::string(cutoff);
        const int64_t wanted = rollup::pg::call([&] {
            return DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(cutoff),
                                                           ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
        });
        std::optional<int64_t> limit = rollup::engine::expiry_limit(relid, wanted);
        if (!limit) return std::nullopt;
        if (*limit == wanted) return std::string(cutoff);
        const int64_t l = *limit;
        return rollup::pg::call([&] {
            int save_style = DateStyle, save_order = DateOrder;
            DateStyle = USE_ISO_DATES;
            DateOrder = DATEORDER_YMD;
            char *out = DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(l)));
            DateStyle = save_style;
            DateOrder = save_order;
            return std::string(out);
        });
    };
    std::optional<std::string> cutoff = current_cutoff();
    if (!cutoff) {
        rollup::pg::call([&] {
            ereport(NOTICE, (errmsg("no row of \"%s\" expires before its rollups' first run", get_rel_name(relid))));
        });
        return 0;
    }
    testing_pause();
    const char *col = quote_identifier(p.time_column);
    std::string lit = quote_literal_cstr(cutoff->c_str());
    std::string local_sql = batch_delete_sql(qualified_name(relid), col, lit.c_str());
    // The deletes run as the table's owner (pg::AsTableOwner): a trigger or rule the owner put on
    // the table (or on its shards) never runs with the rights of whoever set the policy or calls
    // expire (a superuser).
    std::optional<rollup::pg::AsTableOwner> as_owner;
    as_owner.emplace(relid);
    int64_t total = 0;
    for (;;) {
        int64_t n;
        if (distributed) {
            n = rollup::executor::execute_on_all_shards(
                relid, [&](const std::string &shard) { return batch_delete_sql(shard, col, lit.c_str()); });
        } else {
            // Under pg::call: this frame holds C++ objects that a longjmp would skip.
            n = rollup::pg::call([&] {
                spi_exec(local_sql.c_str(), 0, nullptr, nullptr, nullptr, SPI_OK_DELETE);
                return static_cast<int64_t>(SPI_processed);
            });
        }
        total += n;
        if (n == 0 || (!distributed && n < kExpireBatch)) break;
        if (commit_each_batch) {
            // A commit ends the GUC nest level and the user switch with the transaction: leave them
            // first, take them again in the next transaction.
            as_owner.reset();
            rollup::pg::call([&] { SPI_commit(); });
            // The next batch under the locks of its own transaction, with the limit they allow now.
            cutoff = current_cutoff();
            if (!cutoff) break;
            lit = quote_literal_cstr(cutoff->c_str());
            local_sql = batch_delete_sql(qualified_name(relid), col, lit.c_str());
            as_owner.emplace(relid);
        }
        rollup::pg::call([] { CHECK_FOR_INTERRUPTS(); });
    }
    return total;
}

}  // namespace
}  // namespace rollup::scheduler

using namespace rollup::scheduler;
using rollup::pg::throw_error;

ROLLUP_FUNCTION(rollup_set_retention) {
    Oid relid = PG_GETARG_OID(0);
    char *column = NameStr(*PG_GETARG_NAME(1));
    Interval *keep = PG_GETARG_INTERVAL_P(2);
    ensure_table_owner(relid);
    char relkind = get_rel_relkind(relid);
    if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
        throw_error(rollup::sqlstate::wrong_object_type,
                    std::string("\"") + get_rel_name(relid) + "\" is not a table");
    AttrNumber att = get_attnum(relid, column);
    if (att == InvalidAttrNumber)
        throw_error(rollup::sqlstate::undefined_column, std::string("column \"") + column + "\" of table \"" +
                                                            get_rel_name(relid) + "\" does not exist");
    Oid type = get_atttype(relid, att);
    if (type != TIMESTAMPTZOID && type != TIMESTAMPOID && type != DATEOID)
        throw_error(rollup::sqlstate::datatype_mismatch,
                    std::string("column \"") + column + "\" has type " + format_type_be(type) +
                        ", but retention needs timestamptz, timestamp or date");
    if (keep->time <= 0 && keep->day <= 0 && keep->month <= 0)
        throw_error(rollup::sqlstate::invalid_parameter_value, "keep must be a positive interval");

    char *rel = qualified_name(relid);
    char *name = psprintf("expire %s", rel);
    char *command = psprintf("CALL rollup.run_retention(%s)", quote_literal_cstr(rel));
    int64_t jobid = schedule_job(name, kRetentionSchedule, command, GetUserId(), nullptr, -1, -1, -1, relid);

    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    CatalogUser cu;
    become_catalog_owner(cu);
    Oid types[4] = {OIDOID, NAMEOID, INTERVALOID, INT8OID};
    Datum values[4] = {ObjectIdGetDatum(relid), PG_GETARG_DATUM(1), PointerGetDatum(keep), Int64GetDatum(jobid)};
    // A policy set earlier by another role (e.g. a superuser) had its own job: drop it.
    spi_exec("DELETE FROM rollup.job WHERE jobid = (SELECT jobid FROM rollup.retention WHERE relid = $1)"
             " AND jobid <> $4",
             4, types, values, nullptr, SPI_OK_DELETE);
    spi_exec("INSERT INTO rollup.retention (relid, time_column, keep, jobid) VALUES ($1, $2, $3, $4)"
             " ON CONFLICT (relid) DO UPDATE SET time_column = $2, keep = $3, jobid = $4",
             4, types, values, nullptr, SPI_OK_INSERT);
    restore_user(cu);
    SPI_finish();
    PG_RETURN_VOID();
}

ROLLUP_FUNCTION(rollup_remove_retention) {
    Oid relid = PG_GETARG_OID(0);
    ensure_table_owner(relid);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    CatalogUser cu;
    become_catalog_owner(cu);
    Oid types[1] = {OIDOID};
    Datum values[1] = {ObjectIdGetDatum(relid)};
    spi_exec("DELETE FROM rollup.retention WHERE relid = $1 RETURNING jobid", 1, types, values, nullptr,
             SPI_OK_DELETE_RETURNING);
    bool found = SPI_processed > 0;
    if (found) {
        bool isnull;
        int64_t jobid = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
        delete_job(jobid);
    }
    restore_user(cu);
    SPI_finish();
    PG_RETURN_BOOL(found);
}

ROLLUP_FUNCTION(rollup_expire) {
    Oid relid = PG_GETARG_OID(0);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    int64_t n = expire_table(relid, false);
    SPI_finish();
    rollup::scheduler::report_rows(n);
    PG_RETURN_INT64(n);
}

ROLLUP_FUNCTION(rollup_run_retention) {
    if (PG_ARGISNULL(0)) throw_error(rollup::sqlstate::invalid_parameter_value, "table must not be NULL");
    Oid relid = PG_GETARG_OID(0);
    bool nonatomic = fcinfo->context && IsA(fcinfo->context, CallContext) &&
                     !castNode(CallContext, fcinfo->context)->atomic;
    if (SPI_connect_ext(nonatomic ? SPI_OPT_NONATOMIC : 0) != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    int64_t n = expire_table(relid, nonatomic);
    SPI_finish();
    rollup::scheduler::report_rows(n);
    PG_RETURN_VOID();
}
