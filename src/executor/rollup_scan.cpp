// RollupScan execution. Design note: at the first fetch, the scan folds stable functions and
// external Params into constants (every shard sees the same now()), prunes shards with Params,
// deparses one query per shard, packs each node's shard queries into up to
// rollup.max_connections_per_node UNION ALL statements (one round trip per connection), runs them
// all at once through exec::execute, and turns the text rows into Datums with the types' input
// functions as they arrive:
//  - Scan and FullAgg: rows go straight into a tuplestore (spills to disk past work_mem);
//  - PartialAgg: rows are combined per group in a TupleHashTable that uses the group keys' own
//    equality and hash functions (numeric 1.0 = 1.00, collations as on the coordinator), then
//    finalized into the tuplestore with vanilla's result types (see core/partial_agg.hpp).
// Rows are served from the tuplestore, so a rescan (e.g. inside a correlated subplan) does not
// query the shards again: the remote queries never depend on the outer row (PARAM_EXEC never ships).
// The C++ state lives in a ScanExec owned by the scan state; it is deleted by EndCustomScan, or by
// a reset callback of the query's memory context when the query fails.
#include <string>
#include <vector>

#include "core/partial_agg.hpp"
#include "core/task_batches.hpp"

#include "pg/node_values.hpp"
#include "connection/connection_pool.hpp"
#include "executor/remote_exec.hpp"
#include "executor/rollup_scan.hpp"
#include "deparser/deparse.hpp"
#include "planner/time_buckets.hpp"
#include "planner/select_internal.hpp"

namespace rollup::scan {

namespace {

bool explain_all_tasks = false;

// A remote text column and how it becomes a Datum.
struct ColumnIn {
    FmgrInfo finfo;
    Oid ioparam;
    int32 typmod;
};

// Partial aggregation of one Aggref (POD: lives in palloc'd arrays).
struct AggPart {
    core::CombineKind kind;
    int col;          // first remote column (partial columns are numbered from 0 after the keys)
    FmgrInfo combine; // SameState
    Oid collation;
    bool init_null;   // SameState initial value when no row at all (plain aggregation)
    Datum init;
    bool state_byval;
    int16 state_len;
};

struct NodeQuery {
    int nodeid;
    std::string sql;
    std::vector<int> shards;
    bool local = false;  // run in this backend (small read of the coordinator's own shards)
};

struct ScanExec {
    select::ScanSpec spec;
    std::vector<NodeQuery> queries;
    std::string shard_sql;  // the query of one shard (EXPLAIN)
    int shard_node = 0;     // where that shard lives
    int shard_count = 0;
    bool fetched = false;
    std::string remote_plan;
    // Values of $1, $2, ... in the statements (the query's constants, folded stable functions and
    // parameters): the statement text then depends only on the query's shape, and each node plans
    // it once per connection (prepared), not once per execution.
    std::vector<std::optional<std::string>> params;
    std::vector<Oid> param_types;
};

bool prepare_statements_guc = true;

struct RollupScanState {
    CustomScanState css;
    ScanExec *exec;
    // PostgreSQL-owned, in the query context:
    Tuplestorestate *store;
    TupleTableSlot *store_slot;
    MemoryContext row_cxt;
    int ncols;  // remote columns
    ColumnIn *cols;
    AttrNumber *attnums;  // Scan: remote column -> attribute
    TupleDesc out_desc;   // rows put into the store
    Datum *values;
    bool *nulls;
    // PartialAgg
    int ngroup;
    int naggs;
    int npartial;  // remote columns after the keys
    AggPart *aggs;
    TupleDesc remote_desc;
    TupleTableSlot *remote_slot;
    TupleTableSlot *entry_slot;
    TupleHashTable hash;
    MemoryContext hash_cxt;
    Datum *plain_state;  // ngroup == 0
    bool *plain_null;
    bool plain_seen;
};

void free_exec(void *arg) {
    RollupScanState *st = static_cast<RollupScanState *>(arg);
    delete st->exec;  // std members only: cannot fail
    st->exec = nullptr;
}

// ---- PostgreSQL-side row handling (POD frames only; run under pg::call) ----

Datum read_col(RollupScanState *st, PGresult *res, int row, int col, bool *isnull) {
    if (PQgetisnull(res, row, col)) {
        *isnull = true;
        return InputFunctionCall(&st->cols[col].finfo, NULL, st->cols[col].ioparam, st->cols[col].typmod);
    }
    *isnull = false;
    return InputFunctionCall(&st->cols[col].finfo, PQgetvalue(res, row, col), st->cols[col].ioparam,
                             st->cols[col].typmod);
}

void combine_value(RollupScanState *st, AggPart *a, int pcol, Datum *state, bool *snull, Datum v, bool vnull,
                   MemoryContext keep) {
    if (vnull) return;
    if (*snull) {
        MemoryContext old = MemoryContextSwitchTo(keep);
        Datum copy;
        if (pcol == a->col && a->kind == core::CombineKind::SameState)
            copy = datumCopy(v, a->state_byval, a->state_len);
        else if (pcol == a->col)  // count (int8 by value) or NumericSum's numeric
            copy = a->kind == core::CombineKind::NumericSum ? datumCopy(v, false, -1) : v;
        else  // second column: numeric sum (AvgNumeric) or float8 sum (AvgFloat)
            copy = a->kind == core::CombineKind::AvgNumeric ? datumCopy(v, false, -1) : v;
        MemoryContextSwitchTo(old);
        *state = copy;
        *snull = false;
        return;
    }
    Datum out;
    bool byval;
    int16 len;
    if (a->kind == core::CombineKind::SameState) {
        out = FunctionCall2Coll(&a->combine, a->collation, *state, v);
        byval = a->state_byval;
        len = a->state_len;
    } else if (a->kind == core::CombineKind::NumericSum ||
               (a->kind == core::CombineKind::AvgNumeric && pcol == a->col + 1)) {
        out = DirectFunctionCall2(numeric_add, *state, v);
        byval = false;
        len = -1;
    } else if (pcol == a->col) {  // counts of avg
        out = Int64GetDatum(DatumGetInt64(*state) + DatumGetInt64(v));
        byval = true;
        len = 8;
    } else {  // AvgFloat sum
        out = Float8GetDatum(DatumGetFloat8(*state) + DatumGetFloat8(v));
        byval = true;
        len = 8;
    }
    if (byval) {
        *state = out;
    } else if (DatumGetPointer(out) != DatumGetPointer(*state)) {
        MemoryContext old = MemoryContextSwitchTo(keep);
        Datum copy = datumCopy(out, false, len);
        MemoryContextSwitchTo(old);
        pfree(DatumGetPointer(*state));
        *state = copy;
    }
}

void combine_row(RollupScanState *st, Datum *state, bool *snull, const Datum *vals, const bool *vnulls,
                 MemoryContext keep) {
    for (int i = 0; i < st->naggs; i++) {
        AggPart *a = &st->aggs[i];
        int ncol = core::remote_columns(a->kind);
        for (int c = a->col; c < a->col + ncol; c++)
            combine_value(st, a, c, &state[c], &snull[c], vals[st->ngroup + c], vnulls[st->ngroup + c], keep);
    }
}

void store_result(RollupScanState *st, PGresult *res) {
    int nrows = PQntuples(res);
    if (PQnfields(res) != st->ncols)
        ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                        errmsg("a shard returned %d columns where %d were expected", PQnfields(res), st->ncols)));
    select::Mode mode = st->exec->spec.mode;
    for (int r = 0; r < nrows; r++) {
        MemoryContextReset(st->row_cxt);
        MemoryContext old = MemoryContextSwitchTo(st->row_cxt);
        if (mode == select::Mode::Scan) {
            int natts = st->out_desc->natts;
            for (int a = 0; a < natts; a++) st->nulls[a] = true;
            for (int c = 0; c < st->ncols; c++) {
                int a = st->attnums[c] - 1;
                st->values[a] = read_col(st, res, r, c, &st->nulls[a]);
            }
            tuplestore_putvalues(st->store, st->out_desc, st->values, st->nulls);
        } else if (mode != select::Mode::PartialAgg) {  // FullAgg, Query, JoinScan: by position
            for (int c = 0; c < st->ncols; c++) st->values[c] = read_col(st, res, r, c, &st->nulls[c]);
            tuplestore_putvalues(st->store, st->out_desc, st->values, st->nulls);
        } else {
            TupleTableSlot *slot = st->remote_slot;
            ExecClearTuple(slot);
            for (int c = 0; c < st->ncols; c++)
                slot->tts_values[c] = read_col(st, res, r, c, &slot->tts_isnull[c]);
            ExecStoreVirtualTuple(slot);
            if (st->ngroup == 0) {
                st->plain_seen = true;
                combine_row(st, st->plain_state, st->plain_null, slot->tts_values, slot->tts_isnull,
                            st->css.ss.ps.state->es_query_cxt);
            } else {
                bool isnew;
                TupleHashEntry e = LookupTupleHashEntry(st->hash, slot, &isnew, NULL);
                if (isnew) {
                    Size sz = st->npartial * (sizeof(Datum) + sizeof(bool));
                    e->additional = MemoryContextAllocZero(st->hash_cxt, sz);
                    bool *sn = reinterpret_cast<bool *>(static_cast<Datum *>(e->additional) + st->npartial);
                    for (int c = 0; c < st->npartial; c++) sn[c] = true;
                }
                Datum *state = static_cast<Datum *>(e->additional);
                bool *sn = reinterpret_cast<bool *>(state + st->npartial);
                combine_row(st, state, sn, slot->tts_values, slot->tts_isnull, st->hash_cxt);
            }
        }
        MemoryContextSwitchTo(old);
    }
}

// Final value of one aggregate from its combined partial columns.
Datum finalize(AggPart *a, const Datum *state, const bool *snull, bool *isnull) {
    switch (a->kind) {
        case core::CombineKind::SameState:
        case core::CombineKind::NumericSum:
            *isnull = snull[a->col];
            return state[a->col];
        case core::CombineKind::AvgNumeric: {
            if (snull[a->col] || DatumGetInt64(state[a->col]) == 0 || snull[a->col + 1]) {
                *isnull = true;
                return 0;
            }
            *isnull = false;
            Datum n = DirectFunctionCall1(int8_numeric, state[a->col]);
            return DirectFunctionCall2(numeric_div, state[a->col + 1], n);
        }
        case core::CombineKind::AvgFloat: {
            if (snull[a->col] || DatumGetInt64(state[a->col]) == 0 || snull[a->col + 1]) {
                *isnull = true;
                return 0;
            }
            *isnull = false;
            return Float8GetDatum(DatumGetFloat8(state[a->col + 1]) / static_cast<double>(DatumGetInt64(state[a->col])));
        }
        default:
            *isnull = true;
            return 0;
    }
}

void finalize_partial(RollupScanState *st) {
    MemoryContext old = MemoryContextSwitchTo(st->row_cxt);
    if (st->ngroup == 0) {
        MemoryContextReset(st->row_cxt);
        for (int i = 0; i < st->naggs; i++) {
            AggPart *a = &st->aggs[i];
            if (!st->plain_seen) {
                // No shard was read: the aggregates of an empty input.
                if (a->kind == core::CombineKind::SameState) {
                    st->values[i] = a->init;
                    st->nulls[i] = a->init_null;
                } else {
                    st->nulls[i] = true;
                }
            } else {
                st->values[i] = finalize(a, st->plain_state, st->plain_null, &st->nulls[i]);
            }
        }
        tuplestore_putvalues(st->store, st->out_desc, st->values, st->nulls);
    } else {
        TupleHashIterator iter;
        InitTupleHashIterator(st->hash, &iter);
        TupleHashEntry e;
        while ((e = ScanTupleHashTable(st->hash, &iter)) != NULL) {
            MemoryContextReset(st->row_cxt);
            ExecStoreMinimalTuple(e->firstTuple, st->entry_slot, false);
            slot_getsomeattrs(st->entry_slot, st->ngroup);
            for (int k = 0; k < st->ngroup; k++) {
                st->values[k] = st->entry_slot->tts_values[k];
                st->nulls[k] = st->entry_slot->tts_isnull[k];
            }
            Datum *state = static_cast<Datum *>(e->additional);
            bool *sn = reinterpret_cast<bool *>(state + st->npartial);
            for (int i = 0; i < st->naggs; i++)
                st->values[st->ngroup + i] = finalize(&st->aggs[i], state, sn, &st->nulls[st->ngroup + i]);
            tuplestore_putvalues(st->store, st->out_desc, st->values, st->nulls);
        }
        TermTupleHashIterator(&iter);
    }
    MemoryContextSwitchTo(old);
}

// ---- building the queries ----

// When pruning leaves no shard, the statement still runs on one: its filter is false for every row
// there too (pruning is sound), and the shard then computes what PostgreSQL computes over no rows:
// one row for an aggregate without GROUP BY (count 0, sum NULL), none otherwise. Skipping it would
// return no row where PostgreSQL returns one.
// A WHERE clause (implicit-AND list or expression) that can never be true once folded: one of its
// top-level conjuncts is a constant false or NULL (a real-time view's arm with nothing stale). Its
// scan asks no shard (an ungrouped aggregate still gets its one row from at_least_one_shard).
bool never_true(Node *quals) {
    if (!quals) return false;
    if (IsA(quals, Const)) {
        Const *c = reinterpret_cast<Const *>(quals);
        return c->consttype == BOOLOID && (c->constisnull || !DatumGetBool(c->constvalue));
    }
    List *conjuncts = NIL;
    if (IsA(quals, List)) conjuncts = reinterpret_cast<List *>(quals);
    else if (is_andclause(quals)) conjuncts = reinterpret_cast<BoolExpr *>(quals)->args;
    ListCell *lc;
    foreach (lc, conjuncts) {
        Node *n = static_cast<Node *>(lfirst(lc));
        if (IsA(n, Const) && never_true(n)) return true;
    }
    return false;
}

void at_least_one_shard(std::vector<int> &shards) {
    if (shards.empty()) shards.push_back(0);
}

Node *replace_params_mutator(Node *node, ExprContext *econtext) {
    if (!node) return nullptr;
    if (IsA(node, Param) && reinterpret_cast<Param *>(node)->paramkind == PARAM_EXTERN) {
        Param *p = reinterpret_cast<Param *>(node);
        ExprState *es = ExecInitExpr(reinterpret_cast<Expr *>(p), NULL);
        bool isnull;
        Datum v = ExecEvalExprSwitchContext(es, econtext, &isnull);
        int16 len;
        bool byval;
        get_typlenbyval(p->paramtype, &len, &byval);
        if (!isnull) v = datumCopy(v, byval, len);
        return reinterpret_cast<Node *>(makeConst(p->paramtype, p->paramtypmod, p->paramcollid, len, v, isnull, byval));
    }
    return expression_tree_mutator(node, reinterpret_cast<Node *(*)()>(replace_params_mutator), econtext);
}

struct ParamContext {
    ScanExec *ex;
    // Whether a Const directly below the node being visited may become a parameter. Only operands
    // of operators and arguments of plain function calls may: the deparser reads other constants
    // as constants (EXTRACT's and normalize's field, a length coercion's typmod, ...), and a Param
    // there would crash it or print another expression.
    bool operand = false;
};

bool params_allowed_below(Node *node) {
    switch (nodeTag(node)) {
        case T_OpExpr:
        case T_DistinctExpr:
        case T_NullIfExpr:
        case T_ScalarArrayOpExpr:
            return true;
        case T_FuncExpr:
            return reinterpret_cast<FuncExpr *>(node)->funcformat == COERCE_EXPLICIT_CALL;
        default:
            return false;
    }
}

// Times (and ranges of times) stay in the text. They bound range scans (`ts > $1`), for which a node
// plans at every execution anyway (a generic plan, blind to the bound, is never cheaper), and a
// dashboard's bounds stay the same for a minute or more (a real-time view's frontier, a window
// that starts at a minute): with them in the text, a node plans such a statement once while they
// last and executes the plan it keeps; a statement whose time changes every time costs no more
// than before (a parse and a plan).
bool stays_literal(Oid type) {
    switch (type) {
        case TIMESTAMPTZOID: case TIMESTAMPOID: case DATEOID:
        case TSTZRANGEOID: case TSRANGEOID: case DATERANGEOID:
        case TSTZMULTIRANGEOID: case TSMULTIRANGEOID: case DATEMULTIRANGEOID:
            return true;
        default:
            return false;
    }
}

// Constants that are operands become parameters whose values travel beside the statement (so a
// node plans a statement of that shape once).
Node *parameterize_mutator(Node *node, ParamContext *ctx) {
    if (!node) return nullptr;
    if (IsA(node, Const)) {
        Const *c = reinterpret_cast<Const *>(node);
        if (!ctx->operand || c->consttype == UNKNOWNOID || c->consttype == CSTRINGOID || stays_literal(c->consttype))
            return node;
        ScanExec *ex = ctx->ex;
        if (c->constisnull) {
            ex->params.emplace_back(std::nullopt);
        } else {
            char *text = OidOutputFunctionCall(pg::node_output_function(c->consttype), c->constvalue);
            ex->params.emplace_back(std::string(text));
        }
        ex->param_types.push_back(c->consttype);
        Param *p = makeNode(Param);
        p->paramkind = PARAM_EXTERN;
        p->paramid = static_cast<int>(ex->params.size());
        p->paramtype = c->consttype;
        p->paramtypmod = c->consttypmod;
        p->paramcollid = c->constcollid;
        p->location = -1;
        return reinterpret_cast<Node *>(p);
    }
    const bool saved = ctx->operand;
    if (!IsA(node, List)) ctx->operand = params_allowed_below(node);  // argument lists: the parent decides
    Node *out = expression_tree_mutator(node, reinterpret_cast<Node *(*)()>(parameterize_mutator), ctx);
    ctx->operand = saved;
    return out;
}

// Params and stable functions become constants, once for all shards.
Node *fold(Node *expr, EState *estate, ExprContext *econtext) {
    Node *n = pg::call([&] { return replace_params_mutator(static_cast<Node *>(copyObjectImpl(expr)), econtext); });
    return deparse::fold_expression_for_execution(n, estate->es_param_list_info);
}

std::string deparse_expr(Node *expr, List *dpcontext) { return deparse::expression_for_node(expr, dpcontext); }

// The remote columns of a partial aggregate (Aggref with Vars of varno 1).
std::vector<std::string> partial_columns(Aggref *agg, core::CombineKind kind, List *dpcontext) {
    std::vector<std::string> out;
    if (kind == core::CombineKind::SameState || kind == core::CombineKind::NumericSum) {
        out.push_back(deparse_expr(reinterpret_cast<Node *>(agg), dpcontext));
        return out;
    }
    Aggref *count = pg::call([&] { return static_cast<Aggref *>(copyObjectImpl(agg)); });
    count->aggfnoid = F_COUNT_ANY;
    count->aggtype = INT8OID;
    count->aggargtypes = pg::call([&] { return list_make1_oid(exprType(reinterpret_cast<Node *>(linitial_node(TargetEntry, agg->args)->expr))); });
    out.push_back(deparse_expr(reinterpret_cast<Node *>(count), dpcontext));
    Aggref *sum = pg::call([&] { return static_cast<Aggref *>(copyObjectImpl(agg)); });
    switch (agg->aggfnoid) {
        case F_AVG_INT2: sum->aggfnoid = F_SUM_INT2; sum->aggtype = INT8OID; break;
        case F_AVG_INT4: sum->aggfnoid = F_SUM_INT4; sum->aggtype = INT8OID; break;
        case F_AVG_INT8: sum->aggfnoid = F_SUM_INT8; sum->aggtype = NUMERICOID; break;
        case F_AVG_NUMERIC: sum->aggfnoid = F_SUM_NUMERIC; sum->aggtype = NUMERICOID; break;
        case F_AVG_FLOAT8: sum->aggfnoid = F_SUM_FLOAT8; sum->aggtype = FLOAT8OID; break;
        case F_AVG_FLOAT4: {
            sum->aggfnoid = F_SUM_FLOAT8;
            sum->aggtype = FLOAT8OID;
            sum->aggargtypes = pg::call([] { return list_make1_oid(FLOAT8OID); });
            TargetEntry *te = pg::call([&] { return static_cast<TargetEntry *>(copyObjectImpl(linitial(agg->args))); });
            te->expr = pg::call([&] {
                return reinterpret_cast<Expr *>(makeFuncExpr(F_FLOAT8_FLOAT4, FLOAT8OID, list_make1(te->expr), InvalidOid,
                                                             InvalidOid, COERCE_EXPLICIT_CAST));
            });
            sum->args = pg::call([&] { return list_make1(te); });
            break;
        }
        default:
            throw PgError(sqlstate::internal_error, "unexpected aggregate in partial aggregation");
    }
    std::string s = deparse_expr(reinterpret_cast<Node *>(sum), dpcontext);
    out.push_back(kind == core::CombineKind::AvgNumeric ? "(" + s + ")::numeric" : s);
    return out;
}

void set_column(ColumnIn &col, Oid type, int32 typmod) {
    pg::call([&] {
        Oid infunc;
        getTypeInputInfo(type, &infunc, &col.ioparam);
        fmgr_info(infunc, &col.finfo);
    });
    col.typmod = typmod;
}


// Query and JoinScan: the pushed-down statement, folded once, deparsed for each shard index that
// survives pruning (co-located shards of one index live on one node), packed per node as above.
// Constants stay literals (the statement text is the query's own, not a fixed shape).
void begin_pushdown(RollupScanState *st, EState *estate, int eflags) {
    ScanExec &ex = *st->exec;
    const select::ScanSpec &spec = ex.spec;
    const metadata::DistTable &rep = metadata::get(spec.relid);
    MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);
    struct Restore {
        MemoryContext m;
        ~Restore() { MemoryContextSwitchTo(m); }
    } restore{old};

    TupleDesc desc = st->css.ss.ss_ScanTupleSlot->tts_tupleDescriptor;
    st->out_desc = desc;
    st->ncols = desc->natts;
    st->cols = static_cast<ColumnIn *>(pg::call([&] { return palloc0(sizeof(ColumnIn) * (desc->natts + 1)); }));
    for (int c = 0; c < desc->natts; c++)
        set_column(st->cols[c], TupleDescAttr(desc, c)->atttypid, TupleDescAttr(desc, c)->atttypmod);
    st->values = static_cast<Datum *>(pg::call([&] { return palloc0(sizeof(Datum) * (desc->natts + 1)); }));
    st->nulls = static_cast<bool *>(pg::call([&] { return palloc0(sizeof(bool) * (desc->natts + 1)); }));

    // Params through the executor first (PL/pgSQL variables included), then stable functions.
    Query *q = spec.query;
    if (!(eflags & EXEC_FLAG_EXPLAIN_ONLY)) {
        ExprContext *econtext = st->css.ss.ps.ps_ExprContext;
        q = pg::call([&] {
            return query_tree_mutator(q, reinterpret_cast<Node *(*)()>(replace_params_mutator), econtext, 0);
        });
    }
    // EXPLAIN alone shows the statement as written (now() rather than its value), as the scan does.
    if (!(eflags & EXEC_FLAG_EXPLAIN_ONLY)) q = deparse::fold_for_execution(q, estate->es_param_list_info);
    std::vector<int> shards = select::prune_pushdown(q, rep);
    if (!(eflags & EXEC_FLAG_EXPLAIN_ONLY) && q->jointree && never_true(q->jointree->quals)) shards.clear();
    at_least_one_shard(shards);
    std::vector<const metadata::DistTable *> tables;
    ListCell *lc;
    foreach (lc, q->rtable) {
        RangeTblEntry *rte = static_cast<RangeTblEntry *>(lfirst(lc));
        if (rte->rtekind == RTE_RELATION) tables.push_back(&metadata::get(rte->relid));
    }
    conn::CanonicalOutputStyle style;
    std::map<int, std::vector<int>> by_node;
    for (int s : shards) by_node[rep.shards[s].nodeid].push_back(s);
    ex.shard_count = static_cast<int>(shards.size());
    std::map<int, std::string> sql_of;
    const deparse::ShardStatement statement(q);  // printed once, instantiated per shard
    for (int s : shards) sql_of[s] = statement.for_shard(s);
    if (!shards.empty()) {
        ex.shard_sql = deparse::one_line(sql_of[shards.front()]);
        ex.shard_node = rep.shards[shards.front()].nodeid;
    }
    for (auto &kv : by_node) {
        bool local = true;
        for (const metadata::DistTable *t : tables) local = local && exec::local_read_ok(*t, kv.second);
        const int batches = local ? 1 : conn::max_connections_per_node();
        for (const std::vector<int> &batch : core::batch_shards(kv.second, batches)) {
            NodeQuery nq;
            nq.nodeid = kv.first;
            nq.shards = batch;
            nq.local = local;
            for (size_t b = 0; b < batch.size(); b++) {
                if (batch.size() == 1) {
                    nq.sql = sql_of[batch[b]];
                } else {
                    if (b) nq.sql += " UNION ALL ";
                    nq.sql += "(" + sql_of[batch[b]] + ")";
                }
            }
            ex.queries.push_back(std::move(nq));
        }
    }
    st->store = pg::call([] { return tuplestore_begin_heap(false, false, work_mem); });
    st->store_slot = pg::call([&] { return ExecInitExtraTupleSlot(estate, st->out_desc, &TTSOpsMinimalTuple); });
}

void begin(RollupScanState *st, EState *estate, int eflags) {
    CustomScan *cs = reinterpret_cast<CustomScan *>(st->css.ss.ps.plan);
    MemoryContext qcxt = estate->es_query_cxt;
    st->exec = new ScanExec();
    pg::call([&] {
        MemoryContextCallback *cb =
            static_cast<MemoryContextCallback *>(MemoryContextAllocZero(qcxt, sizeof(MemoryContextCallback)));
        cb->func = free_exec;
        cb->arg = st;
        MemoryContextRegisterResetCallback(qcxt, cb);
    });
    ScanExec &ex = *st->exec;
    ex.spec = select::spec_from_list(cs->custom_private);
    if (ex.spec.mode == select::Mode::Query || ex.spec.mode == select::Mode::JoinScan)
        return begin_pushdown(st, estate, eflags);
    const select::ScanSpec &spec = ex.spec;
    const metadata::DistTable &t = metadata::get(spec.relid);
    bool explain_only = (eflags & EXEC_FLAG_EXPLAIN_ONLY) != 0;

    ExprContext *econtext = st->css.ss.ps.ps_ExprContext;
    std::vector<int> shards = explain_only && spec.prune_exprs != NIL
                                  ? std::vector<int>{}
                                  : select::prune_at_execution(t, spec, econtext);
    if (explain_only && spec.prune_exprs != NIL) {
        // Params are unknown without execution: show what plan-time pruning left.
        select::ScanSpec s2 = spec;
        s2.prune_exprs = NIL;
        shards = select::prune_at_execution(t, s2, econtext);
    }
    // The shippable quals folded once here (stable functions evaluated once for all shards): one
    // that can never be true leaves no shard to ask.
    List *remote_quals = spec.remote_quals;
    if (!explain_only) {
        List *folded_quals = NIL;
        bool never = false;
        ListCell *qc;
        foreach (qc, spec.remote_quals) {
            Node *f = fold(static_cast<Node *>(lfirst(qc)), estate, econtext);
            never = never || pg::call([&] { return never_true(f); });
            folded_quals = pg::call([&] { return lappend(folded_quals, f); });
        }
        remote_quals = folded_quals;
        if (never) shards.clear();
    }
    // A plain scan whose WHERE is never true asks no shard at all (EXPLAIN still shows the
    // statement); anything that must produce a row even then (an ungrouped aggregate) asks one.
    const bool no_shard = shards.empty() && spec.mode == select::Mode::Scan && !explain_only;
    if (!no_shard) at_least_one_shard(shards);

    // Deparse in a style every node parses back exactly.
    conn::CanonicalOutputStyle style;
    List *dpcontext = pg::call([&] { return deparse_context_for(t.relname.c_str(), t.relid); });
    ScanExec &exs = *st->exec;
    ParamContext pctx{&exs};
    const deparse::TimeBucketContext buckets = deparse::time_bucket_context();
    // `filter`: a WHERE qual (date_trunc comparisons may become comparisons of the column).
    auto folded = [&](Node *n, bool filter = false) -> Node * {
        if (explain_only) return n;
        Node *f = fold(n, estate, econtext);
        f = pg::call([&] { return deparse::rewrite_time_buckets(f, &buckets, filter); });
        if (!prepare_statements_guc) return f;
        return pg::call([&] { return parameterize_mutator(f, &pctx); });
    };

    std::string select_list;
    auto add_col = [&](const std::string &s) {
        if (!select_list.empty()) select_list += ", ";
        select_list += s;
    };
    MemoryContext old = MemoryContextSwitchTo(qcxt);
    struct Restore {
        MemoryContext m;
        ~Restore() { MemoryContextSwitchTo(m); }
    } restore{old};

    if (spec.mode == select::Mode::Scan) {
        st->ncols = list_length(spec.fetch_attnums);
        st->cols = static_cast<ColumnIn *>(pg::call([&] { return palloc0(sizeof(ColumnIn) * (st->ncols + 1)); }));
        st->attnums = static_cast<AttrNumber *>(pg::call([&] { return palloc0(sizeof(AttrNumber) * (st->ncols + 1)); }));
        st->out_desc = RelationGetDescr(st->css.ss.ss_currentRelation);
        int i = 0;
        ListCell *lc;
        foreach (lc, spec.fetch_attnums) {
            AttrNumber a = static_cast<AttrNumber>(lfirst_int(lc));
            Form_pg_attribute att = TupleDescAttr(st->out_desc, a - 1);
            st->attnums[i] = a;
            set_column(st->cols[i], att->atttypid, att->atttypmod);
            add_col(pg::call([&] { return quote_identifier(NameStr(att->attname)); }));
            i++;
        }
    } else {
        st->out_desc = st->css.ss.ss_ScanTupleSlot->tts_tupleDescriptor;
        st->ngroup = spec.ngroup;
        int nexprs = list_length(spec.remote_exprs);
        st->naggs = nexprs - spec.ngroup;
        std::vector<std::pair<Oid, int32>> types;
        std::vector<Oid> collations;
        int i = 0;
        ListCell *lc;
        foreach (lc, spec.remote_exprs) {
            Node *e = static_cast<Node *>(lfirst(lc));
            if (i < spec.ngroup || spec.mode == select::Mode::FullAgg) {
                add_col(deparse_expr(folded(e), dpcontext));
                types.emplace_back(exprType(e), exprTypmod(e));
                collations.push_back(exprCollation(e));
            }
            i++;
        }
        if (spec.mode == select::Mode::PartialAgg) {
            st->aggs = static_cast<AggPart *>(pg::call([&] { return palloc0(sizeof(AggPart) * (st->naggs + 1)); }));
            int col = 0;
            int k = 0;
            i = 0;
            foreach (lc, spec.remote_exprs) {
                if (i++ < spec.ngroup) continue;
                Aggref *agg = reinterpret_cast<Aggref *>(folded(static_cast<Node *>(lfirst(lc))));
                AggPart &a = st->aggs[k++];
                a.kind = select::combine_kind(agg);
                a.col = col;
                a.collation = agg->inputcollid;
                a.init_null = true;
                for (const std::string &s : partial_columns(agg, a.kind, dpcontext)) add_col(s);
                switch (a.kind) {
                    case core::CombineKind::SameState: {
                        Oid aggfn = agg->aggfnoid, rtype = agg->aggtype;
                        pg::call([&] {
                            HeapTuple tup = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(aggfn));
                            if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for aggregate %u", aggfn);
                            Form_pg_aggregate f = reinterpret_cast<Form_pg_aggregate>(GETSTRUCT(tup));
                            fmgr_info(f->aggcombinefn, &a.combine);
                            bool isnull;
                            Datum init = SysCacheGetAttr(AGGFNOID, tup, Anum_pg_aggregate_agginitval, &isnull);
                            if (!isnull) {
                                Oid infunc, ioparam;
                                getTypeInputInfo(rtype, &infunc, &ioparam);
                                a.init = OidInputFunctionCall(infunc, TextDatumGetCString(init), ioparam, -1);
                                a.init_null = false;
                            }
                            ReleaseSysCache(tup);
                            get_typlenbyval(rtype, &a.state_len, &a.state_byval);
                        });
                        types.emplace_back(agg->aggtype, -1);
                        break;
                    }
                    case core::CombineKind::NumericSum:
                        types.emplace_back(NUMERICOID, -1);
                        break;
                    case core::CombineKind::AvgNumeric:
                        types.emplace_back(INT8OID, -1);
                        types.emplace_back(NUMERICOID, -1);
                        break;
                    case core::CombineKind::AvgFloat:
                        types.emplace_back(INT8OID, -1);
                        types.emplace_back(FLOAT8OID, -1);
                        break;
                    default:
                        throw PgError(sqlstate::internal_error, "aggregate cannot be combined from shards");
                }
                col += core::remote_columns(a.kind);
            }
            st->npartial = col;
        }
        st->ncols = static_cast<int>(types.size());
        st->cols = static_cast<ColumnIn *>(pg::call([&] { return palloc0(sizeof(ColumnIn) * (st->ncols + 1)); }));
        for (int c = 0; c < st->ncols; c++) set_column(st->cols[c], types[c].first, types[c].second);
        if (spec.mode == select::Mode::PartialAgg) {
            int nc = st->ncols, ng = st->ngroup;
            std::vector<Oid> eqops;
            ListCell *lc2;
            foreach (lc2, spec.group_eqops) eqops.push_back(lfirst_oid(lc2));
            const std::pair<Oid, int32> *tp = types.data();
            const Oid *eqp = eqops.data();
            const Oid *collp = collations.data();
            pg::call([&] {
                TupleDesc rd = CreateTemplateTupleDesc(nc);
                for (int c = 0; c < nc; c++) TupleDescInitEntry(rd, c + 1, NULL, tp[c].first, tp[c].second, 0);
                st->remote_desc = rd;
                st->remote_slot = ExecInitExtraTupleSlot(estate, rd, &TTSOpsVirtual);
                st->entry_slot = ExecInitExtraTupleSlot(estate, rd, &TTSOpsMinimalTuple);
                st->hash_cxt = AllocSetContextCreate(qcxt, "RollupScan groups", ALLOCSET_DEFAULT_SIZES);
                if (ng == 0) {
                    st->plain_state = static_cast<Datum *>(palloc0(sizeof(Datum) * (st->npartial + 1)));
                    st->plain_null = static_cast<bool *>(palloc(sizeof(bool) * (st->npartial + 1)));
                    for (int c = 0; c <= st->npartial; c++) st->plain_null[c] = true;
                } else {
                    AttrNumber *keys = static_cast<AttrNumber *>(palloc(sizeof(AttrNumber) * ng));
                    Oid *colls = static_cast<Oid *>(palloc(sizeof(Oid) * ng));
                    for (int k = 0; k < ng; k++) {
                        keys[k] = k + 1;
                        colls[k] = collp[k];
                    }
                    Oid *eqfuncs;
                    FmgrInfo *hashfns;
                    execTuplesHashPrepare(ng, eqp, &eqfuncs, &hashfns);
                    st->hash = BuildTupleHashTableExt(&st->css.ss.ps, rd, ng, keys, eqfuncs, hashfns, colls, 256, 0,
                                                      qcxt, st->hash_cxt, st->row_cxt, false);
                }
            });
        }
    }
    int natts = st->out_desc->natts;
    st->values = static_cast<Datum *>(pg::call([&] { return palloc0(sizeof(Datum) * (natts + 1)); }));
    st->nulls = static_cast<bool *>(pg::call([&] { return palloc0(sizeof(bool) * (natts + 1)); }));

    std::string where;
    ListCell *lc;
    foreach (lc, remote_quals) {
        where += where.empty() ? " WHERE " : " AND ";
        where += "(" + deparse_expr(folded(static_cast<Node *>(lfirst(lc)), true), dpcontext) + ")";
    }
    std::string group_by;
    if (spec.mode != select::Mode::Scan && spec.ngroup > 0) {
        group_by = " GROUP BY ";
        for (int g = 1; g <= spec.ngroup; g++) group_by += (g > 1 ? ", " : "") + std::to_string(g);
    }
    std::string head = "SELECT " + select_list + " FROM ";
    std::string tail = where + group_by;

    // Shards per node, in shard order; then up to max_connections_per_node statements per node.
    std::map<int, std::vector<int>> by_node;
    for (int s : shards) by_node[t.shards[s].nodeid].push_back(s);
    ex.shard_count = static_cast<int>(shards.size());
    if (!shards.empty()) {
        ex.shard_sql = head + t.shards[shards.front()].name + tail;
        ex.shard_node = t.shards[shards.front()].nodeid;
    } else if (no_shard) {
        ex.shard_sql = head + t.shards[0].name + tail;
        ex.shard_node = t.shards[0].nodeid;
    }
    for (auto &kv : by_node) {
        // A small read of the coordinator's own shards runs here, as one statement.
        const bool local = exec::local_read_ok(t, kv.second);
        const int batches = local ? 1 : conn::max_connections_per_node();
        for (const std::vector<int> &batch : core::batch_shards(kv.second, batches)) {
            NodeQuery q;
            q.nodeid = kv.first;
            q.shards = batch;
            q.local = local;
            for (size_t b = 0; b < batch.size(); b++) {
                std::string one = head + t.shards[batch[b]].name + tail;
                if (batch.size() == 1) {
                    q.sql = one;
                } else {
                    if (b) q.sql += " UNION ALL ";
                    q.sql += "(" + one + ")";
                }
            }
            ex.queries.push_back(std::move(q));
        }
    }
    st->store = pg::call([] { return tuplestore_begin_heap(false, false, work_mem); });
    st->store_slot = pg::call([&] { return ExecInitExtraTupleSlot(estate, st->out_desc, &TTSOpsMinimalTuple); });
}

void fetch(RollupScanState *st) {
    ScanExec &ex = *st->exec;
    ex.fetched = true;
    std::vector<exec::Task> tasks;
    for (const NodeQuery &q : ex.queries) {
        exec::Task t;
        t.nodeid = q.nodeid;
        t.sql = q.sql;
        t.single_row = ex.spec.mode == select::Mode::Scan || ex.spec.mode == select::Mode::JoinScan ||
                       ex.spec.mode == select::Mode::Query;
        t.local = q.local;
        t.params = ex.params;
        t.param_types = ex.param_types;
        // Prepared also without parameters: a statement whose times stay the same is planned once.
        t.prepare = prepare_statements_guc;
        t.on_rows = [st](PGresult *res) { pg::call([&] { store_result(st, res); }); };
        tasks.push_back(std::move(t));
    }
    exec::execute(tasks);
    if (ex.spec.mode == select::Mode::PartialAgg) pg::call([&] { finalize_partial(st); });
}

// ---- executor callbacks ----

TupleTableSlot *access(ScanState *node) {
    RollupScanState *st = reinterpret_cast<RollupScanState *>(node);
    if (!st->exec->fetched) pg::guard([&] { fetch(st); });
    TupleTableSlot *scan = node->ss_ScanTupleSlot;
    ExecClearTuple(scan);
    if (!tuplestore_gettupleslot(st->store, true, false, st->store_slot)) return scan;
    slot_getallattrs(st->store_slot);
    int natts = scan->tts_tupleDescriptor->natts;
    memcpy(scan->tts_values, st->store_slot->tts_values, sizeof(Datum) * natts);
    memcpy(scan->tts_isnull, st->store_slot->tts_isnull, sizeof(bool) * natts);
    ExecStoreVirtualTuple(scan);
    scan->tts_tableOid = st->exec->spec.relid;
    return scan;
}

bool recheck(ScanState *, TupleTableSlot *) { return true; }

Node *create_state(CustomScan *cscan);

void begin_scan(CustomScanState *node, EState *estate, int eflags) {
    RollupScanState *st = reinterpret_cast<RollupScanState *>(node);
    st->row_cxt = AllocSetContextCreate(estate->es_query_cxt, "RollupScan rows", ALLOCSET_DEFAULT_SIZES);
    pg::guard([&] { begin(st, estate, eflags); });
}

TupleTableSlot *exec_scan(CustomScanState *node) { return ExecScan(&node->ss, access, recheck); }

void end_scan(CustomScanState *node) {
    RollupScanState *st = reinterpret_cast<RollupScanState *>(node);
    if (st->store) tuplestore_end(st->store);
    st->store = nullptr;
    delete st->exec;
    st->exec = nullptr;
}

void rescan(CustomScanState *node) {
    RollupScanState *st = reinterpret_cast<RollupScanState *>(node);
    if (st->store) tuplestore_rescan(st->store);
}

std::string remote_explain(RollupScanState *st, ExplainState *es) {
    ScanExec &ex = *st->exec;
    if (ex.queries.empty()) return {};
    std::string opts = "ANALYZE";
    opts += es->verbose ? ", VERBOSE" : "";
    opts += es->costs ? "" : ", COSTS OFF";
    opts += es->timing ? "" : ", TIMING OFF";
    opts += es->summary ? "" : ", SUMMARY OFF";
    opts += es->buffers ? ", BUFFERS" : "";
    exec::Task t;
    t.nodeid = ex.shard_node;
    t.sql = "EXPLAIN (" + opts + ") " + ex.shard_sql;
    t.params = ex.params;
    t.param_types = ex.param_types;
    std::string out;
    t.on_rows = [&out](PGresult *res) {
        for (int r = 0; r < PQntuples(res); r++) {
            out += PQgetvalue(res, r, 0);
            out += '\n';
        }
    };
    std::vector<exec::Task> tasks;
    tasks.push_back(std::move(t));
    exec::execute(tasks);
    return out;
}

void explain_lines(const char *label, const std::string &text, ExplainState *es) {
    if (es->format != EXPLAIN_FORMAT_TEXT) {
        ExplainPropertyText(label, text.c_str(), es);
        return;
    }
    pg::call([&] {
        appendStringInfoSpaces(es->str, es->indent * 2);
        appendStringInfo(es->str, "%s:\n", label);
    });
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) nl = text.size();
        std::string line = text.substr(pos, nl - pos);
        pg::call([&] {
            appendStringInfoSpaces(es->str, es->indent * 2 + 2);
            appendStringInfo(es->str, "%s\n", line.c_str());
        });
        pos = nl + 1;
    }
}

void explain(RollupScanState *st, ExplainState *es) {
    ScanExec &ex = *st->exec;
    std::string mode = select::mode_name(ex.spec.mode);
    pg::call([&] {
        ExplainPropertyText("Distributed", mode.c_str(), es);
        ExplainPropertyInteger("Task Count", NULL, ex.shard_count, es);
        ExplainPropertyInteger("Node Queries", NULL, static_cast<int64>(ex.queries.size()), es);
    });
    if (explain_all_tasks) {
        // Nodes are numbered by their order among the nodes this scan reads (ids and ports vary).
        std::map<int, int> rank;
        for (const NodeQuery &q : ex.queries) rank.emplace(q.nodeid, 0);
        int k = 0;
        for (auto &kv : rank) kv.second = ++k;
        for (const NodeQuery &q : ex.queries) {
            std::string label = "Query on node " + std::to_string(rank[q.nodeid]);
            pg::call([&] { ExplainPropertyText(label.c_str(), q.sql.c_str(), es); });
        }
    } else if (!ex.shard_sql.empty()) {
        pg::call([&] { ExplainPropertyText("Shard Query", ex.shard_sql.c_str(), es); });
    }
    if (!ex.params.empty()) {
        std::string values;
        for (size_t i = 0; i < ex.params.size(); i++) {
            if (i) values += ", ";
            values += "$" + std::to_string(i + 1) + " = ";
            if (!ex.params[i])
                values += "NULL";
            else
                values += pg::call([&] { return quote_literal_cstr(ex.params[i]->c_str()); });
        }
        pg::call([&] { ExplainPropertyText("Query Parameters", values.c_str(), es); });
    }
    if (es->analyze && ex.fetched && !ex.shard_sql.empty()) {
        if (ex.remote_plan.empty()) ex.remote_plan = remote_explain(st, es);
        explain_lines("Remote Plan (one shard)", ex.remote_plan, es);
    }
}

void explain_scan(CustomScanState *node, List *ancestors, ExplainState *es) {
    pg::guard([&] { explain(reinterpret_cast<RollupScanState *>(node), es); });
}

CustomExecMethods exec_methods = {
    "RollupScan", begin_scan, exec_scan, end_scan, rescan, nullptr, nullptr,
    nullptr,      nullptr,    nullptr,   nullptr,  nullptr, explain_scan,
};

CustomScanMethods scan_methods = {"RollupScan", create_state};

Node *create_state(CustomScan *cscan) {
    RollupScanState *st = static_cast<RollupScanState *>(palloc0(sizeof(RollupScanState)));
    NodeSetTag(st, T_CustomScanState);
    st->css.methods = &exec_methods;
    return reinterpret_cast<Node *>(st);
}

}  // namespace

const CustomScanMethods *methods() { return &scan_methods; }

void init() {
    RegisterCustomScanMethods(&scan_methods);
    DefineCustomBoolVariable("rollup.prepare_node_statements",
                             "Distributed reads send their constants as parameters of statements prepared "
                             "once per node connection.",
                             "A node then plans a statement of a given shape once, not at every execution. "
                             "Times stay in the text: a statement with the same times is planned once.",
                             &prepare_statements_guc, true, PGC_USERSET, 0, NULL, NULL, NULL);
    DefineCustomBoolVariable("rollup.explain_all_tasks", "EXPLAIN shows the statement sent to every node.",
                             "Otherwise it shows the query of one shard.", &explain_all_tasks, false, PGC_USERSET, 0,
                             NULL, NULL, NULL);
}

}  // namespace rollup::scan
