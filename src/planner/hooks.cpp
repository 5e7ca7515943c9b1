// Hook installation and the guard that keeps rows out of shell tables: a write that reaches a
// distributed table's shell through any path we do not route is refused instead of stored.
#include "commands/grant_propagate.hpp"
#include "metadata/metadata_cache.hpp"
#include "planner/hooks.hpp"
#include "planner/reads.hpp"
#include "planner/writes.hpp"

namespace rollup::hooks {

namespace {

ExecutorStart_hook_type prev_executor_start = nullptr;
ProcessUtility_hook_type prev_process_utility = nullptr;

int shell_write_depth = 0;

void ensure_no_shell_write(QueryDesc *qd) {
    if (shell_write_depth > 0) return;
    PlannedStmt *ps = qd->plannedstmt;
    if (ps->commandType == CMD_SELECT || ps->resultRelations == NIL) return;
    if (!metadata::any_distributed()) return;
    ListCell *lc;
    foreach (lc, ps->resultRelations) {
        RangeTblEntry *rte = rt_fetch(lfirst_int(lc), ps->rtable);
        if (const metadata::DistTable *t = metadata::lookup(rte->relid))
            throw PgError(sqlstate::feature_not_supported,
                          "this kind of write to distributed table \"" + t->relname + "\" is not supported",
                          "Rows of a distributed table live in its shards; the coordinator's table stays empty.");
    }
}

void executor_start(QueryDesc *qd, int eflags) {
    pg::guard([&] { ensure_no_shell_write(qd); });
    if (prev_executor_start)
        prev_executor_start(qd, eflags);
    else
        standard_ExecutorStart(qd, eflags);
}

void ensure_no_shell_copy(PlannedStmt *pstmt) {
    Node *stmt = pstmt->utilityStmt;
    if (!IsA(stmt, CopyStmt)) return;
    CopyStmt *copy = castNode(CopyStmt, stmt);
    if (!copy->is_from || !copy->relation || !metadata::any_distributed()) return;
    Oid relid = pg::call([&] { return RangeVarGetRelid(copy->relation, NoLock, true); });
    if (const metadata::DistTable *t = metadata::lookup(relid))
        throw PgError(sqlstate::feature_not_supported,
                      "COPY into distributed table \"" + t->relname + "\" is not supported yet");
}

// Rows of a distributed table never pass through its shell: a trigger there would never fire.
void ensure_no_trigger(PlannedStmt *pstmt) {
    Node *stmt = pstmt->utilityStmt;
    if (!IsA(stmt, CreateTrigStmt) || !metadata::any_distributed()) return;
    CreateTrigStmt *trig = castNode(CreateTrigStmt, stmt);
    if (!trig->relation) return;
    Oid relid = pg::call([&] { return RangeVarGetRelid(trig->relation, NoLock, true); });
    if (const metadata::DistTable *t = metadata::lookup(relid))
        throw PgError(sqlstate::feature_not_supported,
                      "cannot create trigger \"" + std::string(trig->trigname) + "\" on distributed table \"" +
                          t->relname + "\"",
                      "Rows of a distributed table are stored in its shards, never in the coordinator's table, "
                      "so the trigger would never fire.");
}

void process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree, ProcessUtilityContext context,
                     ParamListInfo params, QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc) {
    pg::guard([&] {
        ensure_no_shell_copy(pstmt);
        ensure_no_trigger(pstmt);
    });
    // GRANT / REVOKE on tables, REASSIGN OWNED and DROP OWNED: the shards of every distributed table
    // whose privileges or owner changed follow.
    Node *stmt = pstmt->utilityStmt;
    const bool acl_change = (IsA(stmt, GrantStmt) && castNode(GrantStmt, stmt)->objtype == OBJECT_TABLE) ||
                            IsA(stmt, ReassignOwnedStmt) || IsA(stmt, DropOwnedStmt);
    const bool table_grant = acl_change && pg::guard([] { return metadata::any_distributed(); });
    List *acls_before = table_grant ? pg::guard([] { return commands::capture_distributed_acls(); }) : NIL;
    if (prev_process_utility)
        prev_process_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
    else
        standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
    if (table_grant) pg::guard([&] { commands::sync_changed_acls(acls_before); });
}

}  // namespace

ShellWriteAllowed::ShellWriteAllowed() { shell_write_depth++; }
ShellWriteAllowed::~ShellWriteAllowed() { shell_write_depth--; }
bool shell_write_allowed() { return shell_write_depth > 0; }

void init() {
    prev_executor_start = ExecutorStart_hook;
    ExecutorStart_hook = executor_start;
    prev_process_utility = ProcessUtility_hook;
    ProcessUtility_hook = process_utility;
    reads::init();
    writes::init();
}

}  // namespace rollup::hooks
