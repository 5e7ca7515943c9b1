// SQL functions of the scheduler: rollup.schedule, rollup.alter_job, rollup.unschedule.
//
// A job belongs to the role that scheduled it; job names are unique per owner, and scheduling a name
// again updates the job. Only a role with the owner's privileges (the owner, members that inherit
// it, superusers) may alter or remove a job: anyone else gets SQLSTATE 42501.
#include <cmath>
#include <string>

#include "core/cron.hpp"
#include "scheduler/catalog.hpp"

namespace rollup::scheduler {
namespace {

using rollup::pg::throw_error;

void ensure_valid_schedule(const char *text) {
    try {
        core::Schedule::parse(text);
    } catch (const core::ScheduleError &e) {
        throw_error(sqlstate::invalid_parameter_value,
                    std::string("invalid schedule \"") + text + "\": " + e.what(), "",
                    "A schedule is 5 cron fields (minute hour day-of-month month day-of-week, e.g. "
                    "'*/5 * * * *'), an @hourly-style shorthand, or an interval such as '30 seconds'.");
    }
}

double interval_seconds(const Interval *iv) {
    return iv->time / 1e6 + iv->day * 86400.0 + iv->month * 30.0 * 86400.0;
}

// Validates the options shared by schedule and alter_job; NULL arguments are skipped.
void ensure_valid_options(FunctionCallInfo fcinfo, int timeout_arg, int retries_arg, int backoff_arg) {
    if (!PG_ARGISNULL(timeout_arg) && interval_seconds(PG_GETARG_INTERVAL_P(timeout_arg)) < 0)
        throw_error(sqlstate::invalid_parameter_value, "timeout must not be negative", "",
                    "Use '0' for no timeout.");
    if (!PG_ARGISNULL(retries_arg) && (PG_GETARG_INT32(retries_arg) < 0 || PG_GETARG_INT32(retries_arg) > 100))
        throw_error(sqlstate::invalid_parameter_value, "retries must be between 0 and 100");
    if (!PG_ARGISNULL(backoff_arg) && interval_seconds(PG_GETARG_INTERVAL_P(backoff_arg)) < 0.001)
        throw_error(sqlstate::invalid_parameter_value, "retry_backoff must be positive");
}

char *text_arg(FunctionCallInfo fcinfo, int i, const char *what) {
    if (PG_ARGISNULL(i))
        throw_error(make_sqlstate("22004"), std::string(what) + " must not be NULL");
    return text_to_cstring(PG_GETARG_TEXT_PP(i));
}

// Says why the job may not run, when the scheduler cannot see it.
void warn_if_scheduler_cannot_run() {
    if (!loaded_at_startup) {
        ereport(WARNING,
                (errmsg("rollup is not in shared_preload_libraries, so the scheduler is not running"),
                 errdetail("The job is saved, but it will only run once the scheduler runs."),
                 errhint("Add rollup to shared_preload_libraries in postgresql.conf and restart the server.")));
        return;
    }
    const char *db = get_database_name(MyDatabaseId);
    if (!scheduler_database || strcmp(db, scheduler_database) != 0) {
        ereport(WARNING,
                (errmsg("jobs of database \"%s\" are not run: the scheduler works in database \"%s\"", db,
                        scheduler_database ? scheduler_database : ""),
                 errhint("Schedule the job in database \"%s\", or set rollup.scheduler_database = '%s' "
                         "and reload the configuration.",
                         scheduler_database ? scheduler_database : "", db)));
        return;
    }
    if (!enable_scheduler)
        ereport(WARNING, (errmsg("rollup.enable_scheduler is off: the job will run once it is turned on")));
}

void exec_or_fail(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls, int expect) {
    int rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
    if (rc != expect) elog(ERROR, "rollup: catalog statement failed (%s)", SPI_result_code_string(rc));
}

int64_t result_int8(int row, int col) {
    bool isnull;
    Datum d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);
    return isnull ? 0 : DatumGetInt64(d);
}

Oid result_oid(int row, int col) {
    bool isnull;
    Datum d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);
    return isnull ? InvalidOid : DatumGetObjectId(d);
}

[[noreturn]] void permission_denied(const char *what, Oid owner) {
    const char *name = GetUserNameFromId(owner, true);
    throw_error(sqlstate::insufficient_privilege, std::string("permission denied for job ") + what,
                std::string("The job belongs to role \"") + (name ? name : "?") + "\".",
                "Only the job's owner or a superuser can change or remove it.");
}

}  // namespace

int64_t lock_job(int64_t jobid) {
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(jobid)};
    exec_or_fail("SELECT 1 FROM rollup.job WHERE jobid = $1 FOR UPDATE", 1, types, values, nullptr, SPI_OK_SELECT);
    if (SPI_processed == 0) throw_error(sqlstate::undefined_object, "job " + std::to_string(jobid) + " does not exist");
    return jobid;
}

// Locks the job named `name` that the current user may change and returns its jobid (in SPI, as the
// catalog owner). The caller's own job wins over same-named jobs of roles it has privileges of.
int64_t lock_job_by_name(const char *name, Oid me) {
    Oid types[2] = {TEXTOID, OIDOID};
    Datum values[2] = {CStringGetTextDatum(name), ObjectIdGetDatum(me)};
    // Chosen first, locked after: jobs of other roles that the caller may not change are never
    // locked (a role could otherwise stall another owner's job changes by holding the lock).
    exec_or_fail("SELECT jobid, owner FROM rollup.job WHERE job_name = $1"
                 " ORDER BY owner = $2 DESC, jobid",
                 2, types, values, nullptr, SPI_OK_SELECT);
    uint64_t n = SPI_processed;
    if (n == 0)
        throw_error(sqlstate::undefined_object, std::string("job \"") + name + "\" does not exist", "",
                    "See SELECT job_name FROM rollup.jobs.");
    if (result_oid(0, 2) == me) return lock_job(result_int8(0, 1));
    int64_t found = 0;
    int matches = 0;
    for (uint64_t i = 0; i < n; i++)
        if (has_privs_of_role(me, result_oid(i, 2))) {
            found = result_int8(i, 1);
            matches++;
        }
    if (matches > 1)
        throw_error(sqlstate::duplicate_object, std::string("job name \"") + name + "\" is used by several roles",
                    "", "Name the job by its jobid, e.g. rollup.unschedule(jobid).");
    if (matches == 0) permission_denied((std::string("\"") + name + "\"").c_str(), result_oid(0, 2));
    return lock_job(found);
}

int64_t lock_job_by_id(int64_t jobid, Oid me) {
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(jobid)};
    exec_or_fail("SELECT owner FROM rollup.job WHERE jobid = $1", 1, types, values, nullptr, SPI_OK_SELECT);
    if (SPI_processed == 0)
        throw_error(sqlstate::undefined_object, "job " + std::to_string(jobid) + " does not exist");
    Oid owner = result_oid(0, 1);
    if (!has_privs_of_role(me, owner)) permission_denied(std::to_string(jobid).c_str(), owner);
    return lock_job(jobid);
}

void delete_job(int64_t jobid) {
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(jobid)};
    exec_or_fail("DELETE FROM rollup.retention WHERE jobid = $1", 1, types, values, nullptr, SPI_OK_DELETE);
    exec_or_fail("DELETE FROM rollup.job WHERE jobid = $1", 1, types, values, nullptr, SPI_OK_DELETE);
}

// Inserts or updates (same owner and name) a job; NULL options keep their value. Returns jobid.
int64_t upsert_job(const char *name, const char *schedule, const char *command, Oid owner,
                   FunctionCallInfo fcinfo, int timeout_arg, int retries_arg, int backoff_arg,
                   Oid retention_of) {
    Oid types[8] = {TEXTOID, TEXTOID, TEXTOID, OIDOID, INTERVALOID, INT4OID, INTERVALOID, OIDOID};
    Datum values[8] = {CStringGetTextDatum(name), CStringGetTextDatum(schedule), CStringGetTextDatum(command),
                       ObjectIdGetDatum(owner), 0, 0, 0, ObjectIdGetDatum(retention_of)};
    char nulls[9] = "        ";
    int args[3] = {timeout_arg, retries_arg, backoff_arg};
    for (int i = 0; i < 3; i++) {
        if (args[i] < 0 || PG_ARGISNULL(args[i])) nulls[4 + i] = 'n';
        else values[4 + i] = PG_GETARG_DATUM(args[i]);
    }
    if (!OidIsValid(retention_of)) nulls[7] = 'n';
    exec_or_fail(
        "INSERT INTO rollup.job AS j (job_name, schedule, command, owner, timeout, retries, retry_backoff,"
        "                             retention_of)"
        " VALUES ($1, $2, $3, $4, NULLIF($5, '0'::interval), coalesce($6, 0),"
        "         coalesce($7, '1 second'::interval), $8)"
        " ON CONFLICT (owner, job_name) DO UPDATE SET"
        "   schedule = EXCLUDED.schedule, command = EXCLUDED.command, active = true,"
        "   timeout = CASE WHEN $5 IS NULL THEN j.timeout ELSE NULLIF($5, '0'::interval) END,"
        "   retries = coalesce($6, j.retries), retry_backoff = coalesce($7, j.retry_backoff),"
        "   retention_of = EXCLUDED.retention_of,"
        "   changed = CASE WHEN j.schedule = EXCLUDED.schedule THEN j.changed ELSE now() END"
        " RETURNING jobid",
        8, types, values, nulls, SPI_OK_INSERT_RETURNING);
    return result_int8(0, 1);
}

int64_t schedule_job(const char *name, const char *schedule, const char *command, Oid owner,
                     FunctionCallInfo fcinfo, int timeout_arg, int retries_arg, int backoff_arg,
                     Oid retention_of) {
    if (name[0] == '\0') throw_error(sqlstate::invalid_parameter_value, "job_name must not be empty");
    if (command[0] == '\0') throw_error(sqlstate::invalid_parameter_value, "command must not be empty");
    ensure_valid_schedule(schedule);
    if (fcinfo) ensure_valid_options(fcinfo, timeout_arg, retries_arg, backoff_arg);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    CatalogUser cu;
    become_catalog_owner(cu);
    int64_t jobid = upsert_job(name, schedule, command, owner, fcinfo, timeout_arg, retries_arg,
                               backoff_arg, retention_of);
    restore_user(cu);
    SPI_finish();
    warn_if_scheduler_cannot_run();
    return jobid;
}

}  // namespace rollup::scheduler

using namespace rollup::scheduler;
using rollup::pg::throw_error;
namespace sqlstate = rollup::sqlstate;

ROLLUP_FUNCTION(rollup_schedule) {
    char *name = text_arg(fcinfo, 0, "job_name");
    char *schedule = text_arg(fcinfo, 1, "schedule");
    char *command = text_arg(fcinfo, 2, "command");
    int64_t jobid = schedule_job(name, schedule, command, GetUserId(), fcinfo, 3, 4, 5, InvalidOid);
    PG_RETURN_INT64(jobid);
}

ROLLUP_FUNCTION(rollup_alter_job) {
    char *name = text_arg(fcinfo, 0, "job_name");
    if (!PG_ARGISNULL(1)) ensure_valid_schedule(text_to_cstring(PG_GETARG_TEXT_PP(1)));
    if (!PG_ARGISNULL(2) && VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(2)) == 0)
        throw_error(sqlstate::invalid_parameter_value, "command must not be empty");
    ensure_valid_options(fcinfo, 4, 5, 6);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    Oid me = GetUserId();
    CatalogUser cu;
    become_catalog_owner(cu);
    int64_t jobid = lock_job_by_name(name, me);
    Oid types[7] = {INT8OID, TEXTOID, TEXTOID, BOOLOID, INTERVALOID, INT4OID, INTERVALOID};
    Datum values[7] = {Int64GetDatum(jobid)};
    char nulls[8] = "       ";
    for (int i = 1; i < 7; i++) {
        if (PG_ARGISNULL(i)) nulls[i] = 'n';
        else values[i] = PG_GETARG_DATUM(i);
    }
    exec_or_fail("UPDATE rollup.job j SET schedule = coalesce($2, j.schedule), command = coalesce($3, j.command),"
                 "  active = coalesce($4, j.active),"
                 "  timeout = CASE WHEN $5 IS NULL THEN j.timeout ELSE NULLIF($5, '0'::interval) END,"
                 "  retries = coalesce($6, j.retries), retry_backoff = coalesce($7, j.retry_backoff),"
                 "  changed = CASE WHEN coalesce($2, j.schedule) = j.schedule THEN j.changed ELSE now() END"
                 " WHERE jobid = $1",
                 7, types, values, nulls, SPI_OK_UPDATE);
    restore_user(cu);
    SPI_finish();
    PG_RETURN_VOID();
}

ROLLUP_FUNCTION(rollup_unschedule) {
    char *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    Oid me = GetUserId();
    CatalogUser cu;
    become_catalog_owner(cu);
    delete_job(lock_job_by_name(name, me));
    restore_user(cu);
    SPI_finish();
    PG_RETURN_BOOL(true);
}

ROLLUP_FUNCTION(rollup_unschedule_id) {
    int64_t jobid = PG_GETARG_INT64(0);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    Oid me = GetUserId();
    CatalogUser cu;
    become_catalog_owner(cu);
    delete_job(lock_job_by_id(jobid, me));
    restore_user(cu);
    SPI_finish();
    PG_RETURN_BOOL(true);
}
