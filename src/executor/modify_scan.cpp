// RollupModify and RollupSelect custom scans: see modify_scan.hpp for what they do.
// Design note: all remote work happens at the first ExecCustomScan call (a write is all or
// nothing); RETURNING rows are kept in a tuplestore as scan tuples and projected on the way out.
// The C++ part of a scan state (ModifyExec) is deleted by EndCustomScan, or by a reset callback of
// the query's memory context when the executor is torn down by an error.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/rollup_plan.hpp"

#include "connection/connection_pool.hpp"
#include "executor/modify_router.hpp"
#include "executor/modify_scan.hpp"
#include "rollup/invalidations.hpp"
#include "executor/remote_exec.hpp"
#include "metadata/metadata_cache.hpp"
#include "deparser/deparse.hpp"
#include "planner/writes.hpp"
#include "transaction/remote_transaction.hpp"

namespace rollup::modify {

namespace {

struct ModifyExec {
    bool done = false;
    Tuplestorestate *store = nullptr;  // scan tuples whose projection is the RETURNING output
    TupleTableSlot *fetch = nullptr;   // minimal-tuple slot that reads the store
};

struct ModifyState {
    CustomScanState css;
    int kind;
    Oid relid;
    bool autocommit_ok;
    Query *query;           // kPushdown: the statement; kInsertRows: NULL
    Query *conflict_query;  // kInsertRows with ON CONFLICT: deparsed for the clause
    List *wcos;             // kInsertRows: WithCheckOptions (planned)
    ResultRelInfo *wco_rri; // ... and their ExprStates, for ExecWithCheckOptions
    ModifyExec *exec;
};

struct SelectState {
    CustomScanState css;
    PlannedStmt *inner;
    Tuplestorestate *store;
    TupleTableSlot *fetch;
    bool done;
};

Node *create_modify_state(CustomScan *cscan);
Node *create_select_state(CustomScan *cscan);
void begin_modify(CustomScanState *node, EState *estate, int eflags);
TupleTableSlot *exec_modify(CustomScanState *node);
void end_modify(CustomScanState *node);
void rescan_modify(CustomScanState *node);
void begin_select(CustomScanState *node, EState *estate, int eflags);
TupleTableSlot *exec_select(CustomScanState *node);
void end_select(CustomScanState *node);
void rescan_select(CustomScanState *node);
void explain_modify(CustomScanState *node, List *ancestors, ExplainState *es);

const CustomScanMethods modify_scan_methods = {"RollupModify", create_modify_state};
const CustomScanMethods select_scan_methods = {"RollupSelect", create_select_state};

CustomExecMethods modify_exec_methods = {"RollupModify", begin_modify, exec_modify, end_modify, rescan_modify,
                                         nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                                         explain_modify};
CustomExecMethods select_exec_methods = {"RollupSelect", begin_select, exec_select, end_select, rescan_select,
                                         nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};

void release_exec(void *arg) {
    ModifyState *st = static_cast<ModifyState *>(arg);
    delete st->exec;
    st->exec = nullptr;
}

// Fills `slot` (of descriptor `desc`) from one text row of a result; `atts` are the 0-based
// attributes that the result's columns fill, in order (others are NULL).
void store_text_row(PGresult *res, int row, TupleTableSlot *slot, const std::vector<int> &atts,
                    std::vector<FmgrInfo> &in, const std::vector<Oid> &ioparams, Tuplestorestate *store) {
    TupleDesc desc = slot->tts_tupleDescriptor;
    pg::call([&] {
        ExecClearTuple(slot);
        for (int i = 0; i < desc->natts; i++) {
            slot->tts_values[i] = 0;
            slot->tts_isnull[i] = true;
        }
    });
    for (size_t c = 0; c < atts.size(); c++) {
        int a = atts[c];
        bool isnull = PQgetisnull(res, row, static_cast<int>(c));
        const char *v = isnull ? nullptr : PQgetvalue(res, row, static_cast<int>(c));
        FmgrInfo *f = &in[c];
        Oid ioparam = ioparams[c];
        int32 typmod = TupleDescAttr(desc, a)->atttypmod;
        slot->tts_values[a] =
            pg::call([&] { return InputFunctionCall(f, const_cast<char *>(v), ioparam, typmod); });
        slot->tts_isnull[a] = isnull;
    }
    pg::call([&] {
        ExecStoreVirtualTuple(slot);
        tuplestore_puttupleslot(store, slot);
    });
}

// Collects RETURNING rows sent by the shards into `store` as tuples of `slot`'s descriptor.
struct RemoteRows {
    TupleTableSlot *slot;
    Tuplestorestate *store;
    std::vector<int> atts;
    std::vector<FmgrInfo> in;
    std::vector<Oid> ioparams;
    MemoryContext row_cxt;

    RemoteRows(TupleTableSlot *s, Tuplestorestate *ts, std::vector<int> columns, MemoryContext cxt)
        : slot(s), store(ts), atts(std::move(columns)), row_cxt(cxt) {
        TupleDesc desc = slot->tts_tupleDescriptor;
        in.resize(atts.size());
        ioparams.resize(atts.size());
        for (size_t i = 0; i < atts.size(); i++) {
            Oid typid = TupleDescAttr(desc, atts[i])->atttypid;
            FmgrInfo *f = &in[i];
            Oid *iop = &ioparams[i];
            pg::call([&] {
                Oid func;
                getTypeInputInfo(typid, &func, iop);
                fmgr_info(func, f);
            });
        }
    }
    void consume(PGresult *res) {
        if (PQnfields(res) != static_cast<int>(atts.size()))
            throw PgError(sqlstate::internal_error, "unexpected number of RETURNING columns from a shard");
        for (int r = 0; r < PQntuples(res); r++) {
            MemoryContext old = MemoryContextSwitchTo(row_cxt);
            store_text_row(res, r, slot, atts, in, ioparams, store);
            MemoryContextSwitchTo(old);
            MemoryContextReset(row_cxt);
        }
    }
};

Tuplestorestate *new_store(EState *estate) {
    MemoryContext cxt = estate->es_query_cxt;
    return pg::call([&] {
        MemoryContext old = MemoryContextSwitchTo(cxt);
        Tuplestorestate *ts = tuplestore_begin_heap(false, false, work_mem);
        MemoryContextSwitchTo(old);
        return ts;
    });
}

MemoryContext new_row_context(EState *estate) {
    MemoryContext parent = estate->es_query_cxt;
    return pg::call([&] {
        return AllocSetContextCreate(parent, "rollup returning row", ALLOCSET_DEFAULT_SIZES);
    });
}

// ON CONFLICT ON CONSTRAINT names the shell's constraint, which has another name on each shard:
// the same arbiter is given by its columns instead (PostgreSQL infers the same unique index from
// them). PostgreSQL-style C (may ereport).
void constraint_to_inference(Query *q) {
    OnConflictExpr *oc = q->onConflict;
    if (!oc || !OidIsValid(oc->constraint)) return;
    Oid index = get_constraint_index(oc->constraint);
    HeapTuple con = SearchSysCache1(CONSTROID, ObjectIdGetDatum(oc->constraint));
    const bool exclusion = HeapTupleIsValid(con) && ((Form_pg_constraint)GETSTRUCT(con))->contype == CONSTRAINT_EXCLUSION;
    if (HeapTupleIsValid(con)) ReleaseSysCache(con);
    HeapTuple tup = OidIsValid(index) ? SearchSysCache1(INDEXRELID, ObjectIdGetDatum(index)) : NULL;
    if (!HeapTupleIsValid(tup) || exclusion) {
        if (HeapTupleIsValid(tup)) ReleaseSysCache(tup);
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("ON CONFLICT ON CONSTRAINT \"%s\" is not supported on a distributed table",
                               get_constraint_name(oc->constraint)),
                        errhint("Name the constraint's columns instead: ON CONFLICT (column, ...).")));
    }
    Form_pg_index idx = (Form_pg_index)GETSTRUCT(tup);
    RangeTblEntry *target = rt_fetch(q->resultRelation, q->rtable);
    List *exprs = NIL;
    if (!heap_attisnull(tup, Anum_pg_index_indexprs, NULL)) {
        Relation irel = index_open(index, AccessShareLock);
        exprs = RelationGetIndexExpressions(irel);
        index_close(irel, AccessShareLock);
        ChangeVarNodes(reinterpret_cast<Node *>(exprs), 1, q->resultRelation, 0);
    }
    ListCell *next_expr = list_head(exprs);
    List *elems = NIL;
    for (int k = 0; k < idx->indnkeyatts; k++) {
        InferenceElem *ie = makeNode(InferenceElem);
        AttrNumber a = idx->indkey.values[k];
        if (a != 0) {
            Oid type, coll;
            int32 typmod;
            get_atttypetypmodcoll(target->relid, a, &type, &typmod, &coll);
            ie->expr = reinterpret_cast<Node *>(makeVar(q->resultRelation, a, type, typmod, coll, 0));
        } else {
            ie->expr = static_cast<Node *>(lfirst(next_expr));
            next_expr = lnext(exprs, next_expr);
        }
        ie->infercollid = InvalidOid;
        ie->inferopclass = InvalidOid;
        elems = lappend(elems, ie);
    }
    ReleaseSysCache(tup);
    oc->arbiterElems = elems;
    oc->constraint = InvalidOid;
}

// The INSERT ... ON CONFLICT for `nrows` rows whose values are parameters $1, $2, ... row after row
// in the order of the table's columns: the query's own ON CONFLICT and RETURNING, a VALUES list of
// Params as its source. Printed per shard by the deparser, never assembled from text.
Query *rows_query(const Query *conflict, TupleDesc desc, int nrows) {
    Query *q = static_cast<Query *>(copyObjectImpl(conflict));
    constraint_to_inference(q);
    List *types = NIL, *typmods = NIL, *colls = NIL, *names = NIL;
    int *atts = static_cast<int *>(palloc(sizeof(int) * (desc->natts + 1)));  // palloc'd: this frame may longjmp
    int natts = 0;
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute a = TupleDescAttr(desc, i);
        if (a->attisdropped) continue;
        atts[natts++] = i;
        types = lappend_oid(types, a->atttypid);
        typmods = lappend_int(typmods, a->atttypmod);
        colls = lappend_oid(colls, a->attcollation);
        names = lappend(names, makeString(pstrdup(NameStr(a->attname))));
    }
    List *rows = NIL;
    int paramid = 0;
    for (int r = 0; r < nrows; r++) {
        List *row = NIL;
        for (int j = 0; j < natts; j++) {
            Form_pg_attribute a = TupleDescAttr(desc, atts[j]);
            Param *p = makeNode(Param);
            p->paramkind = PARAM_EXTERN;
            p->paramid = ++paramid;
            p->paramtype = a->atttypid;
            p->paramtypmod = -1;
            p->paramcollid = a->attcollation;
            p->location = -1;
            row = lappend(row, p);
        }
        rows = lappend(rows, row);
    }
    RangeTblEntry *values = makeNode(RangeTblEntry);
    values->rtekind = RTE_VALUES;
    values->values_lists = rows;
    values->coltypes = types;
    values->coltypmods = typmods;
    values->colcollations = colls;
    values->eref = makeAlias("*VALUES*", names);
    values->inFromCl = true;
    // The source of the original INSERT (a VALUES list or a SELECT, turned into RTE_RESULT by the
    // planner side) is not printed; the new VALUES list is.
    q->rtable = lappend(q->rtable, values);
    const int vrti = list_length(q->rtable);
    List *tlist = NIL;
    int k = 0;
    for (int j = 0; j < natts; j++) {
        Form_pg_attribute a = TupleDescAttr(desc, atts[j]);
        Var *v = makeVar(vrti, ++k, a->atttypid, a->atttypmod, a->attcollation, 0);
        tlist = lappend(tlist, makeTargetEntry(reinterpret_cast<Expr *>(v), a->attnum,
                                               pstrdup(NameStr(a->attname)), false));
    }
    q->targetList = tlist;
    return q;
}

void run_insert_rows(ModifyState *st) {
    EState *estate = st->css.ss.ps.state;
    const metadata::DistTable &t = metadata::get(st->relid);
    Relation rel = st->css.ss.ss_currentRelation;
    TupleDesc desc = RelationGetDescr(rel);
    const bool returning = st->css.ss.ps.plan->targetlist != NIL;
    ModifyExec &ex = *st->exec;
    if (returning) ex.store = new_store(estate);
    TupleTableSlot *scan = st->css.ss.ss_ScanTupleSlot;

    exec::ShardRouter router(t, desc, st->autocommit_ok && writes::statement_is_whole_transaction());
    std::optional<RemoteRows> remote;
    // ON CONFLICT: one printed statement per row count, its text per shard (outlive the router).
    std::map<int, std::unique_ptr<deparse::ShardStatement>> by_rows;
    if (st->conflict_query) {
        Query *q = deparse::fold_for_execution(st->conflict_query, estate->es_param_list_info);
        writes::ensure_no_settings_dependence(q, t);
        router.rows_statement = [&by_rows, q, desc](int idx, int nrows) -> std::string {
            auto it = by_rows.find(nrows);
            if (it == by_rows.end()) {
                Query *rq = pg::call([&] { return rows_query(q, desc, nrows); });
                it = by_rows.emplace(nrows, std::make_unique<deparse::ShardStatement>(rq)).first;
            }
            return it->second->for_shard(idx);
        };
        if (returning) {
            std::vector<int> atts;
            for (int i = 0; i < desc->natts; i++)
                if (!TupleDescAttr(desc, i)->attisdropped) atts.push_back(i);
            remote.emplace(scan, ex.store, atts, new_row_context(estate));
            router.on_rows = [&remote](PGresult *res) { remote->consume(res); };
        }
    }

    PlanState *child = static_cast<PlanState *>(linitial(st->css.custom_ps));
    for (;;) {
        TupleTableSlot *slot = pg::call([&] { return ExecProcNode(child); });
        if (TupIsNull(slot)) break;
        pg::call([&] { slot_getallattrs(slot); });
        // The row as the table stores it (dropped columns null), in the scan slot, for the checks
        // and for RETURNING; made once per row, and only when one of them needs it.
        const bool checks = st->wco_rri != nullptr;
        const bool keep = returning && !st->conflict_query;
        if (checks || keep) {
            ResultRelInfo *rri = st->wco_rri;
            pg::call([&] {
                ExecClearTuple(scan);
                for (int i = 0; i < desc->natts; i++) {
                    bool dropped = TupleDescAttr(desc, i)->attisdropped;
                    scan->tts_values[i] = dropped ? 0 : slot->tts_values[i];
                    scan->tts_isnull[i] = dropped ? true : slot->tts_isnull[i];
                }
                ExecStoreVirtualTuple(scan);
                if (checks) {
                    // Row-level security WITH CHECK and views' CHECK OPTION, before the row leaves,
                    // as ExecInsert checks them.
                    ExecWithCheckOptions(WCO_RLS_INSERT_CHECK, rri, scan, estate);
                    ExecWithCheckOptions(WCO_VIEW_CHECK, rri, scan, estate);
                }
            });
        }
        router.add(slot->tts_values, slot->tts_isnull);
        if (keep) {
            Tuplestorestate *store = ex.store;
            pg::call([&] { tuplestore_puttupleslot(store, scan); });
        }
    }
    uint64_t n = router.finish();
    // ON CONFLICT DO UPDATE changes rows that were there before, whose times are not known here.
    if (st->conflict_query && st->conflict_query->onConflict &&
        st->conflict_query->onConflict->action == ONCONFLICT_UPDATE && !engine::tracked_time_columns(t.relid).empty()) {
        std::vector<int> all(t.shard_count);
        for (int i = 0; i < t.shard_count; i++) all[i] = i;
        engine::note_unknown(t.relid, all);
    }
    estate->es_processed += n;
}

void run_pushdown(ModifyState *st) {
    EState *estate = st->css.ss.ps.state;
    ModifyExec &ex = *st->exec;
    const metadata::DistTable &t = metadata::get(st->relid);
    Query *q = deparse::fold_for_execution(st->query, estate->es_param_list_info);
    writes::ensure_no_settings_dependence(q, t);
    std::vector<int> shards = writes::shards_for_query(q, t);
    // Rollups of this table recompute what the statement may have changed: the time range its WHERE
    // clause allows (unknown when it has none, assigns the time column, or is an INSERT ... SELECT).
    engine::note_pushdown(t.relid, q, shards);
    // Shards on the coordinator run here (local execution), one statement per task; the others
    // one round trip per node.
    std::map<int, exec::Statements> sql_by_node;
    std::vector<std::pair<int, std::string>> local_sql;
    std::map<int, bool> local_node;
    const deparse::ShardStatement statement(q);
    for (int idx : shards) {
        const int nodeid = t.shards[idx].nodeid;
        auto it = local_node.find(nodeid);
        if (it == local_node.end()) it = local_node.emplace(nodeid, exec::local_write_ok(nodeid)).first;
        if (it->second)
            local_sql.emplace_back(nodeid, statement.for_shard(idx));
        else
            sql_by_node[nodeid].push_back(statement.for_shard(idx));
    }
    const bool returning = st->css.ss.ps.plan->targetlist != NIL;
    std::optional<RemoteRows> remote;
    if (returning) {
        ex.store = new_store(estate);
        TupleTableSlot *scan = st->css.ss.ss_ScanTupleSlot;
        std::vector<int> atts;
        for (int i = 0; i < scan->tts_tupleDescriptor->natts; i++) atts.push_back(i);
        remote.emplace(scan, ex.store, atts, new_row_context(estate));
    }
    std::vector<exec::Task> tasks;
    // A table with rollups records invalidations at the coordinator's pre-commit: never autocommit.
    const bool autocommit = st->autocommit_ok && engine::tracked_time_columns(t.relid).empty() &&
                            local_sql.empty() && sql_by_node.size() == 1 &&
                            writes::statement_is_whole_transaction() && !xact::wrote_locally();
    for (auto &kv : sql_by_node) {
        exec::Task task;
        task.nodeid = kv.first;
        task.statements = std::move(kv.second);
        task.write = true;
        task.autocommit = autocommit;
        if (remote) task.on_rows = [&remote](PGresult *res) { remote->consume(res); };
        tasks.push_back(std::move(task));
    }
    for (auto &kv : local_sql) {
        exec::Task task;
        task.nodeid = kv.first;
        task.sql = std::move(kv.second);
        task.write = true;
        task.local = true;
        if (remote) task.on_rows = [&remote](PGresult *res) { remote->consume(res); };
        tasks.push_back(std::move(task));
    }
    exec::execute(tasks);
    uint64_t n = 0;
    for (auto &task : tasks) n += task.rows_affected;
    estate->es_processed += n;
}

// A store's tuples are read through a minimal-tuple slot (`*fetch`, made on first use) of the
// scan tuple's descriptor; the projection reads it as the scan tuple.
TupleTableSlot *next_returning(CustomScanState *css, Tuplestorestate *store, TupleTableSlot **fetch) {
    if (!store) return nullptr;
    if (!*fetch) {
        EState *estate = css->ss.ps.state;
        TupleDesc desc = css->ss.ss_ScanTupleSlot->tts_tupleDescriptor;
        *fetch = pg::call([&] { return ExecAllocTableSlot(&estate->es_tupleTable, desc, &TTSOpsMinimalTuple); });
    }
    TupleTableSlot *from = *fetch;
    TupleTableSlot *scan = css->ss.ss_ScanTupleSlot;
    // The projection was compiled for the (virtual) scan slot: hand it one.
    bool found = pg::call([&] {
        if (!tuplestore_gettupleslot(store, true, false, from)) return false;
        ExecCopySlot(scan, from);
        return true;
    });
    if (!found) return nullptr;
    ProjectionInfo *proj = css->ss.ps.ps_ProjInfo;
    if (!proj) return scan;
    ExprContext *econtext = css->ss.ps.ps_ExprContext;
    return pg::call([&] {
        ResetExprContext(econtext);
        econtext->ecxt_scantuple = scan;
        return ExecProject(proj);
    });
}

Node *create_modify_state(CustomScan *cscan) {
    return pg::guard([&]() -> Node * {
        ModifyState *st = static_cast<ModifyState *>(pg::call([] { return palloc0(sizeof(ModifyState)); }));
        NodeSetTag(st, T_CustomScanState);
        st->css.methods = &modify_exec_methods;
        List *p = cscan->custom_private;
        st->kind = intVal(list_nth(p, 0));
        st->relid = static_cast<Oid>(intVal(list_nth(p, 1)));
        st->autocommit_ok = intVal(list_nth(p, 2)) != 0;
        st->query = static_cast<Query *>(list_nth(p, 3));
        st->conflict_query = static_cast<Query *>(list_nth(p, 4));
        st->wcos = list_length(p) > 5 ? static_cast<List *>(list_nth(p, 5)) : NIL;
        return reinterpret_cast<Node *>(st);
    });
}

void begin_modify(CustomScanState *node, EState *estate, int eflags) {
    pg::guard([&] {
        ModifyState *st = reinterpret_cast<ModifyState *>(node);
        CustomScan *cscan = reinterpret_cast<CustomScan *>(node->ss.ps.plan);
        if (cscan->custom_plans != NIL) {
            Plan *child = static_cast<Plan *>(linitial(cscan->custom_plans));
            PlanState *ps = pg::call([&] { return ExecInitNode(child, estate, eflags); });
            node->custom_ps = pg::call([&] { return list_make1(ps); });
        }
        if (st->kind == kInsertRows && st->wcos != NIL) {
            Relation rel = node->ss.ss_currentRelation;
            Index rti = static_cast<Index>(reinterpret_cast<Scan *>(cscan)->scanrelid);
            PlanState *ps = &node->ss.ps;
            List *wcos = st->wcos;
            st->wco_rri = pg::call([&] {
                ResultRelInfo *rri = makeNode(ResultRelInfo);
                InitResultRelInfo(rri, rel, rti, NULL, estate->es_instrument);
                List *exprs = NIL;
                ListCell *lc;
                foreach (lc, wcos) {
                    WithCheckOption *wco = static_cast<WithCheckOption *>(lfirst(lc));
                    exprs = lappend(exprs, ExecInitQual(reinterpret_cast<List *>(wco->qual), ps));
                }
                rri->ri_WithCheckOptions = wcos;
                rri->ri_WithCheckOptionExprs = exprs;
                return rri;
            });
        }
        st->exec = new ModifyExec();
        MemoryContext cxt = estate->es_query_cxt;
        pg::call([&] {
            MemoryContextCallback *cb =
                static_cast<MemoryContextCallback *>(MemoryContextAllocZero(cxt, sizeof(MemoryContextCallback)));
            cb->func = release_exec;
            cb->arg = st;
            MemoryContextRegisterResetCallback(cxt, cb);
        });
    });
}

TupleTableSlot *exec_modify(CustomScanState *node) {
    return pg::guard([&]() -> TupleTableSlot * {
        ModifyState *st = reinterpret_cast<ModifyState *>(node);
        if (!st->exec) throw PgError(sqlstate::internal_error, "RollupModify executed after its end");
        if (!st->exec->done) {
            st->exec->done = true;
            if (st->kind == kInsertRows)
                run_insert_rows(st);
            else
                run_pushdown(st);
        }
        return next_returning(node, st->exec->store, &st->exec->fetch);
    });
}

void end_modify(CustomScanState *node) {
    pg::guard([&] {
        ModifyState *st = reinterpret_cast<ModifyState *>(node);
        if (node->custom_ps != NIL) {
            PlanState *child = static_cast<PlanState *>(linitial(node->custom_ps));
            pg::call([&] { ExecEndNode(child); });
        }
        if (st->exec && st->exec->store) {
            Tuplestorestate *ts = st->exec->store;
            st->exec->store = nullptr;
            pg::call([&] { tuplestore_end(ts); });
        }
        delete st->exec;
        st->exec = nullptr;
    });
}

void rescan_modify(CustomScanState *node) {
    pg::guard([&] {
        ModifyState *st = reinterpret_cast<ModifyState *>(node);
        if (st->exec && st->exec->store) {
            Tuplestorestate *ts = st->exec->store;
            pg::call([&] { tuplestore_rescan(ts); });
        }
    });
}

// What EXPLAIN shows: how the rows reach the shards. A pushed-down statement: its task count (shards
// left after pruning) and one shard's statement, as written under plain EXPLAIN (now() rather than its
// value, like RollupScan) and as sent under EXPLAIN ANALYZE.
void explain_modify(CustomScanState *node, List *, ExplainState *es) {
    pg::guard([&] {
        ModifyState *st = reinterpret_cast<ModifyState *>(node);
        const metadata::DistTable &t = metadata::get(st->relid);
        auto prop = [&](const char *label, const std::string &value) {
            pg::call([&] { ExplainPropertyText(label, value.c_str(), es); });
        };
        if (st->kind == kInsertRows) {
            prop("Distributed", "insert, rows routed by " + t.dist_column);
            pg::call([&] { ExplainPropertyInteger("Shard Count", nullptr, t.shard_count, es); });
            return;
        }
        EState *estate = node->ss.ps.state;
        Query *folded = deparse::fold_for_execution(st->query, estate->es_param_list_info);
        std::vector<int> shards = writes::shards_for_query(folded, t);
        prop("Distributed", "pushdown");
        pg::call([&] { ExplainPropertyInteger("Task Count", nullptr, static_cast<int64>(shards.size()), es); });
        if (!shards.empty()) {
            conn::CanonicalOutputStyle style;
            prop("Shard Query", deparse::one_line(deparse::query_for_shard(es->analyze ? folded : st->query,
                                                                            shards.front())));
        }
    });
}

// RollupSelect

Node *create_select_state(CustomScan *cscan) {
    return pg::guard([&]() -> Node * {
        SelectState *st = static_cast<SelectState *>(pg::call([] { return palloc0(sizeof(SelectState)); }));
        NodeSetTag(st, T_CustomScanState);
        st->css.methods = &select_exec_methods;
        st->inner = static_cast<PlannedStmt *>(linitial(cscan->custom_private));
        return reinterpret_cast<Node *>(st);
    });
}

void begin_select(CustomScanState *node, EState *estate, int eflags) {}

// PODs only: runs a planned SELECT into a tuplestore.
void run_inner(PlannedStmt *inner, EState *estate, Tuplestorestate *store) {
    DestReceiver *dest = CreateDestReceiver(DestTuplestore);
    SetTuplestoreDestReceiverParams(dest, store, estate->es_query_cxt, false, NULL, NULL);
    QueryDesc *qd = CreateQueryDesc(inner, estate->es_sourceText, GetActiveSnapshot(), InvalidSnapshot, dest,
                                    estate->es_param_list_info, estate->es_queryEnv, 0);
    ExecutorStart(qd, 0);
    ExecutorRun(qd, ForwardScanDirection, 0, true);
    ExecutorFinish(qd);
    ExecutorEnd(qd);
    FreeQueryDesc(qd);
    dest->rDestroy(dest);
}

TupleTableSlot *exec_select(CustomScanState *node) {
    return pg::guard([&]() -> TupleTableSlot * {
        SelectState *st = reinterpret_cast<SelectState *>(node);
        EState *estate = node->ss.ps.state;
        if (!st->done) {
            st->done = true;
            st->store = new_store(estate);
            PlannedStmt *inner = st->inner;
            Tuplestorestate *store = st->store;
            pg::call([&] { run_inner(inner, estate, store); });
        }
        return next_returning(node, st->store, &st->fetch);
    });
}

void end_select(CustomScanState *node) {
    SelectState *st = reinterpret_cast<SelectState *>(node);
    if (st->store) tuplestore_end(st->store);
    st->store = nullptr;
}

void rescan_select(CustomScanState *node) {
    SelectState *st = reinterpret_cast<SelectState *>(node);
    if (st->store) tuplestore_rescan(st->store);
}

}  // namespace

void register_methods() {
    RegisterCustomScanMethods(&modify_scan_methods);
    RegisterCustomScanMethods(&select_scan_methods);
}

CustomScan *make_modify_scan(Kind kind, Oid relid, Index scanrelid, bool autocommit_ok, Query *query,
                             Query *on_conflict_query, List *with_check_options) {
    return pg::call([&] {
        CustomScan *cs = makeNode(CustomScan);
        cs->scan.scanrelid = scanrelid;
        cs->methods = &modify_scan_methods;
        cs->custom_private = lappend(list_make5(makeInteger(kind), makeInteger(static_cast<int>(relid)),
                                                makeInteger(autocommit_ok ? 1 : 0), query, on_conflict_query),
                                     with_check_options);
        return cs;
    });
}

CustomScan *make_select_scan(PlannedStmt *inner, List *tlist) {
    return pg::call([&] {
        CustomScan *cs = makeNode(CustomScan);
        cs->scan.scanrelid = 0;
        cs->methods = &select_scan_methods;
        cs->custom_private = list_make1(inner);
        List *scan_tlist = NIL;
        int resno = 1;
        ListCell *lc;
        foreach (lc, inner->planTree->targetlist) {
            TargetEntry *tle = static_cast<TargetEntry *>(lfirst(lc));
            if (tle->resjunk) continue;
            Node *e = reinterpret_cast<Node *>(tle->expr);
            Const *c = makeNullConst(exprType(e), exprTypmod(e), exprCollation(e));
            scan_tlist = lappend(scan_tlist, makeTargetEntry(reinterpret_cast<Expr *>(c), resno++, tle->resname, false));
        }
        cs->custom_scan_tlist = scan_tlist;
        cs->scan.plan.targetlist = tlist;
        cs->scan.plan.plan_rows = inner->planTree->plan_rows;
        cs->scan.plan.startup_cost = inner->planTree->total_cost;
        cs->scan.plan.total_cost = inner->planTree->total_cost;
        return cs;
    });
}

}  // namespace rollup::modify
