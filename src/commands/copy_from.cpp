// COPY FROM into a distributed table: PostgreSQL's own COPY parser (BeginCopyFrom/NextCopyFrom:
// every format option, defaults evaluated on the coordinator, errors that name the line and
// column) feeds exec::ShardRouter, which streams the rows to the shards (pipelined COPY per node).
// A bad line fails the whole statement: the shards' remote transactions roll back with ours.
// COPY TO from a distributed table becomes COPY (SELECT ...) TO, so the read side answers it.
#include <string>

#include "core/rollup_plan.hpp"

#include "commands/copy_from.hpp"
#include "executor/modify_router.hpp"
#include "metadata/metadata_cache.hpp"
#include "planner/writes.hpp"

namespace rollup::commands {

namespace {

struct ErrorContextScope {
    ErrorContextCallback cb;
    ErrorContextScope(void (*fn)(void *), void *arg) {
        cb.callback = fn;
        cb.arg = arg;
        cb.previous = error_context_stack;
        error_context_stack = &cb;
    }
    ~ErrorContextScope() { error_context_stack = cb.previous; }
};

// Raised as a PostgreSQL error so that COPY's context callback adds the line number.
void raise_null_distribution_value(const char *column) {
    ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION),
                    errmsg("cannot store a row whose distribution column \"%s\" is NULL", column),
                    errhint("Every row of a distributed table needs a value in its distribution column.")));
}

void ensure_copy_privileges(CopyStmt *copy) {
    if (!copy->filename) return;
    Oid uid = GetUserId();
    if (copy->is_program) {
        if (!pg::call([&] { return has_privs_of_role(uid, ROLE_PG_EXECUTE_SERVER_PROGRAM); }))
            throw PgError(sqlstate::insufficient_privilege,
                          "must be superuser or have privileges of the pg_execute_server_program role to COPY to "
                          "or from an external program");
    } else if (!pg::call([&] { return has_privs_of_role(uid, ROLE_PG_READ_SERVER_FILES); })) {
        throw PgError(sqlstate::insufficient_privilege,
                      "must be superuser or have privileges of the pg_read_server_files role to COPY from a file");
    }
}

// PODs only: the permission checks DoCopy does for COPY FROM.
void check_insert_permissions(ParseState *pstate, Relation rel, List *attlist) {
    ParseNamespaceItem *nsitem = addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, NULL, false, false);
    RangeTblEntry *rte = nsitem->p_rte;
    rte->requiredPerms = ACL_INSERT;
    List *attnums = CopyGetAttnums(RelationGetDescr(rel), rel, attlist);
    ListCell *lc;
    foreach (lc, attnums) {
        int attno = lfirst_int(lc) - FirstLowInvalidHeapAttributeNumber;
        rte->insertedCols = bms_add_member(rte->insertedCols, attno);
    }
    ExecCheckRTPerms(pstate->p_rtable, true);
    if (check_enable_rls(RelationGetRelid(rel), InvalidOid, false) == RLS_ENABLED)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("COPY FROM not supported with row-level security"),
                        errhint("Use INSERT statements instead.")));
    if (XactReadOnly && !rel->rd_islocaltemp) PreventCommandIfReadOnly("COPY FROM");
}

uint64_t copy_from(CopyStmt *copy, Oid relid, const char *query_string) {
    const metadata::DistTable &t = metadata::get(relid);
    ensure_copy_privileges(copy);
    if (copy->whereClause)
        throw PgError(sqlstate::feature_not_supported,
                      "COPY FROM ... WHERE into distributed table \"" + t.relname + "\" is not supported", "",
                      "Load into a temporary table and use INSERT ... SELECT ... WHERE.");
    Relation rel = pg::call([&] { return table_open(relid, RowExclusiveLock); });
    struct Close {
        Relation r;
        ~Close() { table_close(r, NoLock); }
    } close{rel};
    ParseState *pstate = pg::call([&] {
        ParseState *p = make_parsestate(NULL);
        p->p_sourcetext = query_string;
        return p;
    });
    pg::call([&] { check_insert_permissions(pstate, rel, copy->attlist); });
    CopyFromState cstate = pg::call([&] {
        return BeginCopyFrom(pstate, rel, NULL, copy->filename, copy->is_program, NULL, copy->attlist, copy->options);
    });
    EState *estate = pg::call([] { return CreateExecutorState(); });
    struct Cleanup {
        EState *estate;
        ~Cleanup() { FreeExecutorState(estate); }
    } cleanup{estate};
    ExprContext *econtext = pg::call([&] { return GetPerTupleExprContext(estate); });
    TupleDesc desc = RelationGetDescr(rel);
    const int natts = desc->natts;
    Datum *values = static_cast<Datum *>(pg::call([&] { return palloc0(sizeof(Datum) * natts); }));
    bool *nulls = static_cast<bool *>(pg::call([&] { return palloc0(sizeof(bool) * natts); }));
    const int dist = t.dist_attnum - 1;
    const char *dist_name = t.dist_column.c_str();

    exec::ShardRouter router(t, desc, writes::statement_is_whole_transaction(0));
    router.copy_state = cstate;
    {
        ErrorContextScope copy_context(CopyFromErrorCallback, cstate);
        for (;;) {
            bool more = pg::call([&] {
                ResetPerTupleExprContext(estate);
                MemoryContext old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
                bool r = NextCopyFrom(cstate, econtext, values, nulls);
                MemoryContextSwitchTo(old);
                return r;
            });
            if (!more) break;
            if (nulls[dist]) pg::call([&] { raise_null_distribution_value(dist_name); });
            router.add(values, nulls);
            if ((router.rows_added() & 1023) == 0) pg::call([] { CHECK_FOR_INTERRUPTS(); });
        }
        router.flush_local();
    }
    uint64_t stored = router.finish();
    pg::call([&] { EndCopyFrom(cstate); });
    if (stored != router.rows_added())
        throw PgError(sqlstate::internal_error, "COPY sent " + std::to_string(router.rows_added()) +
                                                    " rows but the shards stored " + std::to_string(stored));
    return stored;
}

// COPY dist [(cols)] TO ...  ==>  COPY (SELECT cols FROM dist) TO ...
PlannedStmt *copy_to_as_query(PlannedStmt *pstmt, CopyStmt *copy) {
    return pg::call([&] {
        SelectStmt *sel = makeNode(SelectStmt);
        if (copy->attlist == NIL) {
            ColumnRef *cr = makeNode(ColumnRef);
            cr->fields = list_make1(makeNode(A_Star));
            cr->location = -1;
            ResTarget *rt = makeNode(ResTarget);
            rt->val = reinterpret_cast<Node *>(cr);
            rt->location = -1;
            sel->targetList = list_make1(rt);
        } else {
            ListCell *lc;
            foreach (lc, copy->attlist) {
                ColumnRef *cr = makeNode(ColumnRef);
                cr->fields = list_make1(makeString(pstrdup(strVal(lfirst(lc)))));
                cr->location = -1;
                ResTarget *rt = makeNode(ResTarget);
                rt->val = reinterpret_cast<Node *>(cr);
                rt->location = -1;
                sel->targetList = lappend(sel->targetList, rt);
            }
        }
        RangeVar *rv = static_cast<RangeVar *>(copyObjectImpl(copy->relation));
        sel->fromClause = list_make1(rv);
        CopyStmt *nc = static_cast<CopyStmt *>(copyObjectImpl(copy));
        nc->relation = NULL;
        nc->attlist = NIL;
        nc->query = reinterpret_cast<Node *>(sel);
        PlannedStmt *np = static_cast<PlannedStmt *>(copyObjectImpl(pstmt));
        np->utilityStmt = reinterpret_cast<Node *>(nc);
        return np;
    });
}

}  // namespace

bool copy_distributed(PlannedStmt *pstmt, const char *query_string, QueryCompletion *qc,
                      const std::function<void(PlannedStmt *)> &run_standard) {
    Node *stmt = pstmt->utilityStmt;
    if (!IsA(stmt, CopyStmt)) return false;
    CopyStmt *copy = reinterpret_cast<CopyStmt *>(stmt);
    if (!copy->relation) return false;
    Oid relid = pg::call([&] { return RangeVarGetRelid(copy->relation, NoLock, true); });
    if (!OidIsValid(relid) || !metadata::lookup(relid)) return false;
    if (!copy->is_from) {
        run_standard(copy_to_as_query(pstmt, copy));
        return true;
    }
    uint64_t n = copy_from(copy, relid, query_string);
    if (qc) SetQueryCompletion(qc, CMDTAG_COPY, n);
    return true;
}

}  // namespace rollup::commands
