// Planner side of distributed writes: the planner hook that turns INSERT / UPDATE / DELETE on a
// distributed table into RollupModify plans, the utility hook (COPY FROM, DDL propagation), and
// the executor-depth bookkeeping that says when a statement is its whole transaction.
//
// Design note. A write into a distributed table is planned by the standard planner first (so the
// range table, permissions, plan-invalidation dependencies, init plans and the source plan of an
// INSERT are PostgreSQL's), then its ModifyTable is replaced:
//  * INSERT ... VALUES / SELECT from local tables: RollupModify(kInsertRows) over the source plan;
//  * INSERT ... SELECT reading distributed tables: pushed down per co-located shard pair when the
//    SELECT keeps rows of one distribution value together (single co-located source, GROUP BY
//    containing its distribution column, which feeds the target's); otherwise the SELECT is planned
//    on its own through the whole planner hook chain (RollupSelect) and its rows are routed;
//  * UPDATE / DELETE: RollupModify(kPushdown), deparsed per shard at execution time.
// Anything that would read a distributed table's empty shell, or write into it, is refused with
// 0A000 instead of giving a wrong answer. Other statements pass through at the cost of a few
// pointer checks (no distributed table at all: one cached boolean).
#include <exception>
#include <numeric>
#include <string>
#include <vector>

#include "core/rollup_plan.hpp"

#include "commands/copy_from.hpp"
#include "commands/ddl_propagate.hpp"
#include "connection/connection_pool.hpp"
#include "executor/modify_scan.hpp"
#include "metadata/metadata_cache.hpp"
#include "planner/hooks.hpp"
#include "planner/select_internal.hpp"
#include "planner/writes.hpp"
#include "transaction/remote_transaction.hpp"

namespace rollup::writes {

namespace {

planner_hook_type prev_planner = nullptr;
ProcessUtility_hook_type prev_utility = nullptr;
ExecutorRun_hook_type prev_run = nullptr;
ExecutorFinish_hook_type prev_finish = nullptr;
int executor_depth = 0;
int utility_depth = 0;

enum Decision { kNotOurs = 0, kInsert, kModify, kLocalFromDist };

// ---- what a query references ---------------------------------------------------------------

struct RefContext {
    std::vector<const void *> skip;  // RTEs and Queries not to look into
    bool any_relation;               // find any table, not only distributed ones
    Oid found;
    std::exception_ptr error;
};

bool ref_walker(Node *node, RefContext *ctx) {
    if (!node) return false;
    for (const void *s : ctx->skip)
        if (s == node) return false;
    if (IsA(node, Query))
        return query_tree_walker(reinterpret_cast<Query *>(node), reinterpret_cast<bool (*)()>(ref_walker), ctx,
                                 QTW_EXAMINE_RTES_BEFORE);
    if (IsA(node, RangeTblEntry)) {
        RangeTblEntry *rte = reinterpret_cast<RangeTblEntry *>(node);
        if (rte->rtekind != RTE_RELATION) return false;
        try {
            if (ctx->any_relation || metadata::lookup(rte->relid)) {
                ctx->found = rte->relid;
                return true;
            }
        } catch (...) {
            ctx->error = std::current_exception();
            return true;
        }
        return false;
    }
    return expression_tree_walker(node, reinterpret_cast<bool (*)()>(ref_walker), ctx);
}

Oid find_table(Node *node, std::vector<const void *> skip, bool any_relation) {
    RefContext ctx{std::move(skip), any_relation, InvalidOid, nullptr};
    pg::call([&] { ref_walker(node, &ctx); });
    if (ctx.error) std::rethrow_exception(ctx.error);
    return ctx.found;
}

std::string rel_name(Oid relid) {
    const char *n = pg::call([&] { return get_rel_name(relid); });
    return n ? n : std::to_string(relid);
}

const char *command_name(CmdType t) {
    switch (t) {
        case CMD_INSERT: return "INSERT";
        case CMD_UPDATE: return "UPDATE";
        case CMD_DELETE: return "DELETE";
        case CMD_MERGE: return "MERGE";
        default: return "statement";
    }
}

// Functions that do not exist (user functions) or mean something else (sequences) on the nodes.
bool unsafe_function(Oid funcid, void *context) {
    if (funcid >= FirstNormalObjectId || funcid == F_NEXTVAL || funcid == F_CURRVAL || funcid == F_LASTVAL ||
        funcid == F_SETVAL_REGCLASS_INT8 || funcid == F_SETVAL_REGCLASS_INT8_BOOL) {
        *static_cast<Oid *>(context) = funcid;
        return true;
    }
    return false;
}

bool function_walker(Node *node, Oid *found) {
    if (!node) return false;
    if (IsA(node, Query))
        return query_tree_walker(reinterpret_cast<Query *>(node), reinterpret_cast<bool (*)()>(function_walker),
                                 found, 0);
    if (check_functions_in_node(node, unsafe_function, found)) return true;
    return expression_tree_walker(node, reinterpret_cast<bool (*)()>(function_walker), found);
}

// Oid of a function that cannot run on the nodes, or InvalidOid.
Oid unsafe_function_in(Node *node) {
    Oid found = InvalidOid;
    pg::call([&] { function_walker(node, &found); });
    return found;
}

void ensure_functions_run_on_nodes(Node *node, const char *what) {
    Oid f = unsafe_function_in(node);
    if (!OidIsValid(f)) return;
    std::string name = pg::call([&] {
        char *n = get_func_name(f);
        return std::string(n ? n : "?") + "()";
    });
    throw PgError(sqlstate::feature_not_supported,
                  std::string(what) + " on a distributed table cannot call function " + name + " on the shards",
                  "User-defined functions and sequence functions exist only on the coordinator.",
                  "Compute the value first (e.g. in a CTE-free SELECT or a variable) and use the result.");
}

// The source of an INSERT ... SELECT (the subquery RTE) and its range table index.
RangeTblEntry *insert_source(Query *q, Index *rti) {
    int i = 0;
    ListCell *lc;
    foreach (lc, q->rtable) {
        i++;
        RangeTblEntry *rte = static_cast<RangeTblEntry *>(lfirst(lc));
        if (rte->rtekind == RTE_SUBQUERY && rte->subquery) {
            if (rti) *rti = i;
            return rte;
        }
    }
    return nullptr;
}

// RTEs of an INSERT that are the target itself: the target and ON CONFLICT's EXCLUDED.
std::vector<const void *> insert_self_rtes(Query *q) {
    std::vector<const void *> skip{rt_fetch(q->resultRelation, q->rtable)};
    if (q->onConflict && q->onConflict->exclRelIndex > 0) skip.push_back(rt_fetch(q->onConflict->exclRelIndex, q->rtable));
    return skip;
}

// ---- decisions -------------------------------------------------------------------------------

// A data-modifying WITH whose target is a distributed table would write into the shell.
void ensure_no_distributed_cte_write(Query *parse) {
    if (!parse->hasModifyingCTE || !metadata::any_distributed()) return;
    ListCell *lc;
    foreach (lc, parse->cteList) {
        CommonTableExpr *cte = static_cast<CommonTableExpr *>(lfirst(lc));
        Query *q = reinterpret_cast<Query *>(cte->ctequery);
        if (!q || !IsA(q, Query) || q->commandType == CMD_SELECT || q->resultRelation <= 0) continue;
        RangeTblEntry *rte = rt_fetch(q->resultRelation, q->rtable);
        if (const metadata::DistTable *t = metadata::lookup(rte->relid))
            throw PgError(sqlstate::feature_not_supported,
                          std::string(command_name(q->commandType)) + " on distributed table \"" + t->relname +
                              "\" inside WITH is not supported",
                          "", "Run the write as a statement of its own.");
    }
}

Decision classify(Query *parse) {
    // create_distributed_table empties the shell with a plain DELETE: leave such writes alone.
    if (hooks::shell_write_allowed()) return kNotOurs;
    ensure_no_distributed_cte_write(parse);
    CmdType cmd = parse->commandType;
    if (cmd != CMD_INSERT && cmd != CMD_UPDATE && cmd != CMD_DELETE && cmd != CMD_MERGE) return kNotOurs;
    if (parse->resultRelation <= 0 || !metadata::any_distributed()) return kNotOurs;
    RangeTblEntry *target = rt_fetch(parse->resultRelation, parse->rtable);
    const metadata::DistTable *t = metadata::lookup(target->relid);
    if (!t) {
        if (cmd == CMD_INSERT) {
            RangeTblEntry *src = insert_source(parse, nullptr);
            if (src && OidIsValid(find_table(reinterpret_cast<Node *>(src->subquery), {}, false))) {
                std::vector<const void *> skip = insert_self_rtes(parse);
                skip.push_back(src->subquery);
                Oid other = find_table(reinterpret_cast<Node *>(parse), skip, false);
                if (OidIsValid(other))
                    throw PgError(sqlstate::feature_not_supported,
                                  "INSERT into local table \"" + rel_name(target->relid) +
                                      "\" can read distributed table \"" + rel_name(other) +
                                      "\" only in its SELECT part");
                if (parse->cteList != NIL)
                    throw PgError(sqlstate::feature_not_supported,
                                  "WITH on an INSERT ... SELECT from distributed tables is not supported", "",
                                  "Move the WITH clause into the SELECT.");
                return kLocalFromDist;
            }
        }
        Oid d = find_table(reinterpret_cast<Node *>(parse), {}, false);
        if (OidIsValid(d))
            throw PgError(sqlstate::feature_not_supported,
                          std::string(command_name(cmd)) + " on local table \"" + rel_name(target->relid) +
                              "\" cannot read distributed table \"" + rel_name(d) + "\"",
                          "", "Read the distributed rows with INSERT ... SELECT into a temporary table first.");
        return kNotOurs;
    }
    if (cmd == CMD_MERGE)
        throw PgError(sqlstate::feature_not_supported,
                      "MERGE into distributed table \"" + t->relname + "\" is not supported", "",
                      "Use INSERT ... ON CONFLICT, UPDATE or DELETE.");
    if (parse->hasModifyingCTE)
        throw PgError(sqlstate::feature_not_supported,
                      "data-modifying WITH in a write to distributed table \"" + t->relname + "\" is not supported");
    return cmd == CMD_INSERT ? kInsert : kModify;
}

// ---- plan pieces -----------------------------------------------------------------------------

struct VarContext {
    Index from;
};

Node *to_index_var(Node *node, VarContext *ctx) {
    if (!node) return nullptr;
    if (IsA(node, Var)) {
        Var *v = static_cast<Var *>(copyObjectImpl(node));
        if (v->varlevelsup == 0 && v->varno == static_cast<int>(ctx->from)) {
            v->varno = INDEX_VAR;
            v->varnosyn = 0;
            v->varattnosyn = 0;
        }
        return reinterpret_cast<Node *>(v);
    }
    return expression_tree_mutator(node, reinterpret_cast<Node *(*)()>(to_index_var), ctx);
}

// The INSERT's row (one entry per attribute of the target, in attnum order) computed from the
// output of its SELECT part: Vars of the source RTE become INDEX_VAR Vars.
List *insert_row_tlist(Query *q, Index src_rti, Oid relid) {
    return pg::call([&] {
        Relation rel = table_open(relid, NoLock);
        TupleDesc desc = RelationGetDescr(rel);
        List *tl = NIL;
        VarContext ctx{src_rti};
        for (int i = 0; i < desc->natts; i++) {
            Form_pg_attribute att = TupleDescAttr(desc, i);
            Expr *e = nullptr;
            if (att->attisdropped) {
                e = reinterpret_cast<Expr *>(makeNullConst(INT4OID, -1, InvalidOid));
            } else {
                ListCell *lc;
                foreach (lc, q->targetList) {
                    TargetEntry *tle = static_cast<TargetEntry *>(lfirst(lc));
                    if (!tle->resjunk && tle->resno == att->attnum)
                        e = reinterpret_cast<Expr *>(to_index_var(reinterpret_cast<Node *>(tle->expr), &ctx));
                }
                if (!e) e = reinterpret_cast<Expr *>(makeNullConst(att->atttypid, att->atttypmod, att->attcollation));
            }
            fix_opfuncids(reinterpret_cast<Node *>(e));
            tl = lappend(tl, makeTargetEntry(e, att->attnum, pstrdup(NameStr(att->attname)), false));
        }
        table_close(rel, NoLock);
        return tl;
    });
}

// The SELECT part of an INSERT, planned on its own (through every planner hook) and run by a
// RollupSelect node that yields the INSERT's rows.
Plan *select_child(Query *orig, RangeTblEntry *src, Index src_rti, Oid relid, const char *qs, ParamListInfo bp) {
    Query *sub = pg::call([&] { return static_cast<Query *>(copyObjectImpl(src->subquery)); });
    PlannedStmt *inner = pg::call([&] { return planner(sub, qs, 0, bp); });
    List *tl = insert_row_tlist(orig, src_rti, relid);
    return reinterpret_cast<Plan *>(modify::make_select_scan(inner, tl));
}

Node *strip_relabel(Node *n) {
    while (n && IsA(n, RelabelType)) n = reinterpret_cast<Node *>(reinterpret_cast<RelabelType *>(n)->arg);
    return n;
}

// INSERT ... SELECT that can run per co-located shard pair.
bool insert_select_pushdown_ok(Query *orig, const metadata::DistTable &t, RangeTblEntry *src, Index src_rti) {
    Query *sub = src->subquery;
    if (sub->setOperations || sub->limitCount || sub->limitOffset || sub->hasWindowFuncs || sub->hasTargetSRFs ||
        sub->cteList || sub->hasSubLinks || sub->groupingSets || sub->hasDistinctOn || sub->rowMarks)
        return false;
    if (list_length(sub->rtable) != 1) return false;
    RangeTblEntry *rte = static_cast<RangeTblEntry *>(linitial(sub->rtable));
    if (rte->rtekind != RTE_RELATION) return false;
    const metadata::DistTable *s = metadata::lookup(rte->relid);
    if (!s || s->colocationid != t.colocationid || s->shard_count != t.shard_count) return false;
    if (orig->onConflict && OidIsValid(orig->onConflict->constraint)) return false;
    if (OidIsValid(unsafe_function_in(reinterpret_cast<Node *>(orig)))) return false;
    // Values whose text depends on the session's DateStyle (and friends) are computed by the SELECT
    // on the coordinator (the per-table path) rather than on the shards.
    if (select::depends_on_output_settings(reinterpret_cast<Node *>(orig))) return false;
    // The target's distribution value must be the source's, untouched.
    TargetEntry *target_tle = nullptr;
    ListCell *lc;
    foreach (lc, orig->targetList) {
        TargetEntry *tle = static_cast<TargetEntry *>(lfirst(lc));
        if (tle->resno == t.dist_attnum) target_tle = tle;
    }
    if (!target_tle) return false;
    Node *e = strip_relabel(reinterpret_cast<Node *>(target_tle->expr));
    if (!IsA(e, Var)) return false;
    Var *outer = reinterpret_cast<Var *>(e);
    if (outer->varno != static_cast<int>(src_rti) || outer->varlevelsup != 0) return false;
    TargetEntry *sub_tle = get_tle_by_resno(sub->targetList, outer->varattno);
    if (!sub_tle) return false;
    Node *se = strip_relabel(reinterpret_cast<Node *>(sub_tle->expr));
    if (!IsA(se, Var)) return false;
    Var *inner = reinterpret_cast<Var *>(se);
    if (inner->varno != 1 || inner->varlevelsup != 0 || inner->varattno != s->dist_attnum) return false;
    if (sub->groupClause != NIL || sub->hasAggs) {
        if (sub_tle->ressortgroupref == 0) return false;
        bool grouped = false;
        foreach (lc, sub->groupClause) {
            SortGroupClause *g = static_cast<SortGroupClause *>(lfirst(lc));
            if (g->tleSortGroupRef == sub_tle->ressortgroupref) grouped = true;
        }
        if (!grouped) return false;
    }
    return true;
}

struct SubstContext {
    Index src_rti;
    List *sub_tlist;
};

Node *substitute_source(Node *node, SubstContext *ctx) {
    if (!node) return nullptr;
    if (IsA(node, Var)) {
        Var *v = reinterpret_cast<Var *>(node);
        if (v->varlevelsup == 0 && v->varno == static_cast<int>(ctx->src_rti)) {
            TargetEntry *tle = get_tle_by_resno(ctx->sub_tlist, v->varattno);
            if (!tle) elog(ERROR, "INSERT ... SELECT refers to a missing column of its SELECT");
            return static_cast<Node *>(copyObjectImpl(tle->expr));
        }
        return static_cast<Node *>(copyObjectImpl(node));
    }
    return expression_tree_mutator(node, reinterpret_cast<Node *(*)()>(substitute_source), ctx);
}

// The rewriter puts an INSERT's target list in column order, while its SELECT keeps the user's
// order; pg_get_querydef prints the column list from the former and the SELECT as it is. For the
// deparsed text to mean the same, the SELECT's output is rebuilt in the target list's order (its
// old entries stay as junk entries, so GROUP BY / ORDER BY references keep working).
Query *pushdown_insert_query(Query *orig, Index src_rti) {
    return pg::call([&] {
        Query *q = static_cast<Query *>(copyObjectImpl(orig));
        RangeTblEntry *src = rt_fetch(src_rti, q->rtable);
        Query *sub = src->subquery;
        SubstContext ctx{src_rti, sub->targetList};
        List *fresh = NIL;
        List *insert_tl = NIL;
        AttrNumber resno = 1;
        ListCell *lc;
        foreach (lc, q->targetList) {
            TargetEntry *tle = static_cast<TargetEntry *>(lfirst(lc));
            if (tle->resjunk) continue;
            Expr *e = reinterpret_cast<Expr *>(substitute_source(reinterpret_cast<Node *>(tle->expr), &ctx));
            fresh = lappend(fresh, makeTargetEntry(e, resno, tle->resname, false));
            Node *en = reinterpret_cast<Node *>(e);
            Var *v = makeVar(src_rti, resno, exprType(en), exprTypmod(en), exprCollation(en), 0);
            TargetEntry *ntle = static_cast<TargetEntry *>(copyObjectImpl(tle));
            ntle->expr = reinterpret_cast<Expr *>(v);
            insert_tl = lappend(insert_tl, ntle);
            resno++;
        }
        foreach (lc, sub->targetList) {
            TargetEntry *tle = static_cast<TargetEntry *>(copyObjectImpl(lfirst(lc)));
            tle->resjunk = true;
            tle->resno = resno++;
            fresh = lappend(fresh, tle);
        }
        sub->targetList = fresh;
        q->targetList = insert_tl;
        return q;
    });
}

// Values of an INSERT become NULL placeholders and its source goes away, so that the deparsed text
// is "INSERT INTO ... VALUES (NULL::..., ...) ON CONFLICT ..." and the clause can be cut out.
Query *conflict_query(Query *orig, Oid relid) {
    return pg::call([&] {
        Query *q = static_cast<Query *>(copyObjectImpl(orig));
        ListCell *lc;
        foreach (lc, q->targetList) {
            TargetEntry *tle = static_cast<TargetEntry *>(lfirst(lc));
            Node *e = reinterpret_cast<Node *>(tle->expr);
            tle->expr = reinterpret_cast<Expr *>(makeNullConst(exprType(e), exprTypmod(e), exprCollation(e)));
        }
        foreach (lc, q->rtable) {
            RangeTblEntry *rte = static_cast<RangeTblEntry *>(lfirst(lc));
            if (rte->rtekind == RTE_VALUES || rte->rtekind == RTE_SUBQUERY) {
                rte->rtekind = RTE_RESULT;
                rte->subquery = nullptr;
                rte->values_lists = NIL;
            }
        }
        if (q->returningList != NIL) {
            // The shards return whole rows; RETURNING is projected on the coordinator.
            Relation rel = table_open(relid, NoLock);
            TupleDesc desc = RelationGetDescr(rel);
            List *rl = NIL;
            for (int i = 0; i < desc->natts; i++) {
                Form_pg_attribute att = TupleDescAttr(desc, i);
                if (att->attisdropped) continue;
                Var *v = makeVar(q->resultRelation, att->attnum, att->atttypid, att->atttypmod, att->attcollation, 0);
                rl = lappend(rl, makeTargetEntry(reinterpret_cast<Expr *>(v), list_length(rl) + 1,
                                                 pstrdup(NameStr(att->attname)), false));
            }
            table_close(rel, NoLock);
            q->returningList = rl;
        }
        return q;
    });
}

// RETURNING computed on the shards: the scan tuple has the RETURNING columns' types, the output
// projects them as they are.
void set_remote_returning(CustomScan *cs, Query *orig) {
    pg::call([&] {
        List *scan_tl = NIL, *out_tl = NIL;
        ListCell *lc;
        int i = 0;
        foreach (lc, orig->returningList) {
            TargetEntry *tle = static_cast<TargetEntry *>(lfirst(lc));
            Node *e = reinterpret_cast<Node *>(tle->expr);
            i++;
            Const *c = makeNullConst(exprType(e), exprTypmod(e), exprCollation(e));
            scan_tl = lappend(scan_tl, makeTargetEntry(reinterpret_cast<Expr *>(c), i, tle->resname, false));
            Var *v = makeVar(INDEX_VAR, i, exprType(e), exprTypmod(e), exprCollation(e), 0);
            out_tl = lappend(out_tl, makeTargetEntry(reinterpret_cast<Expr *>(v), i, tle->resname, false));
        }
        cs->custom_scan_tlist = scan_tl;
        cs->scan.plan.targetlist = out_tl;
    });
}

void install(PlannedStmt *stmt, ModifyTable *mt, CustomScan *cs) {
    cs->scan.plan.initPlan = mt->plan.initPlan;
    cs->scan.plan.extParam = mt->plan.extParam;
    cs->scan.plan.allParam = mt->plan.allParam;
    cs->scan.plan.plan_rows = mt->plan.plan_rows;
    cs->scan.plan.startup_cost = mt->plan.startup_cost;
    cs->scan.plan.total_cost = mt->plan.total_cost;
    cs->scan.plan.plan_width = mt->plan.plan_width;
    stmt->planTree = reinterpret_cast<Plan *>(cs);
    stmt->resultRelations = NIL;
    // Any metadata change (undistribute, node changes) invalidates cached plans of this statement.
    Oid meta = metadata::metadata_table_oid("dist_table");
    stmt->relationOids = pg::call([&] { return lappend_oid(stmt->relationOids, meta); });
}

ModifyTable *top_modify_table(PlannedStmt *stmt) {
    if (!stmt->planTree || !IsA(stmt->planTree, ModifyTable))
        throw PgError(sqlstate::internal_error, "unexpected plan shape for a write to a distributed table");
    return reinterpret_cast<ModifyTable *>(stmt->planTree);
}

// UPDATE SET and ON CONFLICT DO UPDATE SET may not assign the distribution column.
void refuse_distribution_column_update(List *targets, const metadata::DistTable &t) {
    ListCell *lc;
    foreach (lc, targets) {
        TargetEntry *tle = static_cast<TargetEntry *>(lfirst(lc));
        if (!tle->resjunk && tle->resno == t.dist_attnum)
            throw PgError(sqlstate::feature_not_supported,
                          "cannot update distribution column \"" + t.dist_column + "\" of table \"" + t.relname +
                              "\"",
                          "A row's distribution value decides its shard.",
                          "Delete the row and insert it with the new value.");
    }
}

// A node may commit a write by itself only when nothing of the statement can fail after it: RETURNING
// is projected on the coordinator after the rows were stored (1/(id-5) fails there), so such a
// statement commits with the coordinator's transaction.
bool may_autocommit(const Query *q) { return q->returningList == NIL; }

bool has_view_check_option(const Query *q) {
    ListCell *lc;
    foreach (lc, q->withCheckOptions)
        if (static_cast<WithCheckOption *>(lfirst(lc))->kind == WCO_VIEW_CHECK) return true;
    return false;
}

PlannedStmt *plan_insert(PlannedStmt *stmt, Query *orig, const char *qs, ParamListInfo bp) {
    ModifyTable *mt = top_modify_table(stmt);
    RangeTblEntry *target = rt_fetch(orig->resultRelation, orig->rtable);
    const metadata::DistTable &t = metadata::get(target->relid);
    Index src_rti = 0;
    RangeTblEntry *src = insert_source(orig, &src_rti);
    bool src_dist = src && OidIsValid(find_table(reinterpret_cast<Node *>(src->subquery), {}, false));
    std::vector<const void *> skip = insert_self_rtes(orig);
    if (src) skip.push_back(src->subquery);
    Oid other = find_table(reinterpret_cast<Node *>(orig), skip, false);
    if (OidIsValid(other))
        throw PgError(sqlstate::feature_not_supported,
                      "INSERT into distributed table \"" + t.relname + "\" can read distributed table \"" +
                          rel_name(other) + "\" only in an INSERT ... SELECT");
    if (orig->onConflict && orig->onConflict->action == ONCONFLICT_UPDATE) {
        refuse_distribution_column_update(orig->onConflict->onConflictSet, t);
        // The conflict action runs on the shards, where no other table exists (a coordinator table
        // read there failed with 42P01; the table itself would be read as one shard).
        Oid read = find_table(reinterpret_cast<Node *>(orig->onConflict), {}, true);
        if (OidIsValid(read))
            throw PgError(sqlstate::feature_not_supported,
                          "INSERT ... ON CONFLICT DO UPDATE on distributed table \"" + t.relname +
                              "\" cannot read table \"" + rel_name(read) + "\"",
                          "The conflict action runs on the shards.",
                          "Read it in the INSERT's VALUES or SELECT, and refer to it through EXCLUDED.");
        // The updated row is made on a shard, which has no counterpart of the view's condition.
        if (has_view_check_option(orig))
            throw PgError(sqlstate::feature_not_supported,
                          "INSERT ... ON CONFLICT DO UPDATE through a view WITH CHECK OPTION is not supported on "
                          "distributed table \"" + t.relname + "\"",
                          "", "Insert into the table itself, or use ON CONFLICT DO NOTHING.");
    }
    if (src_dist && insert_select_pushdown_ok(orig, t, src, src_rti) && !has_view_check_option(orig)) {
        Query *pushed = pushdown_insert_query(orig, src_rti);
        CustomScan *cs = modify::make_modify_scan(modify::kPushdown, t.relid, 0, may_autocommit(orig), pushed, nullptr);
        set_remote_returning(cs, orig);
        install(stmt, mt, cs);
        return stmt;
    }
    Query *conflict = nullptr;
    if (orig->onConflict) {
        ensure_functions_run_on_nodes(reinterpret_cast<Node *>(orig->onConflict), "INSERT ... ON CONFLICT");
        conflict = conflict_query(orig, t.relid);
    }
    Plan *child = src_dist ? select_child(orig, src, src_rti, t.relid, qs, bp) : outerPlan(&mt->plan);
    Index rti = static_cast<Index>(linitial_int(mt->resultRelations));
    List *wcos = mt->withCheckOptionLists != NIL ? static_cast<List *>(linitial(mt->withCheckOptionLists)) : NIL;
    CustomScan *cs =
        modify::make_modify_scan(modify::kInsertRows, t.relid, rti, may_autocommit(orig), nullptr, conflict, wcos);
    cs->custom_plans = pg::call([&] { return list_make1(child); });
    cs->scan.plan.targetlist = mt->plan.targetlist;
    install(stmt, mt, cs);
    return stmt;
}

PlannedStmt *plan_modify(PlannedStmt *stmt, Query *orig) {
    ModifyTable *mt = top_modify_table(stmt);
    RangeTblEntry *target = rt_fetch(orig->resultRelation, orig->rtable);
    const metadata::DistTable &t = metadata::get(target->relid);
    const char *cmd = command_name(orig->commandType);
    Oid other = find_table(reinterpret_cast<Node *>(orig), {target}, true);
    if (OidIsValid(other))
        throw PgError(sqlstate::feature_not_supported,
                      std::string(cmd) + " on distributed table \"" + t.relname + "\" cannot read table \"" +
                          rel_name(other) + "\"",
                      "Each shard runs the statement on its own rows only.",
                      "Compute the values first (e.g. into a temporary table or variables) and use constants.");
    if (orig->commandType == CMD_UPDATE) refuse_distribution_column_update(orig->targetList, t);
    // Row-level security is enforced by each shard's own policies (commands/policy_propagate.hpp);
    // a view's CHECK OPTION has no counterpart on the shards.
    if (has_view_check_option(orig))
        throw PgError(sqlstate::feature_not_supported,
                      std::string(cmd) + " through a view WITH CHECK OPTION is not supported on distributed table \"" +
                          t.relname + "\"",
                      "", "Update the table itself, with the view's condition in the WHERE clause.");
    ensure_functions_run_on_nodes(reinterpret_cast<Node *>(orig), cmd);
    CustomScan *cs = modify::make_modify_scan(modify::kPushdown, t.relid, 0, may_autocommit(orig), orig, nullptr);
    set_remote_returning(cs, orig);
    install(stmt, mt, cs);
    return stmt;
}

PlannedStmt *plan_local_from_dist(PlannedStmt *stmt, Query *orig, const char *qs, ParamListInfo bp) {
    ModifyTable *mt = top_modify_table(stmt);
    Index src_rti = 0;
    RangeTblEntry *src = insert_source(orig, &src_rti);
    RangeTblEntry *target = rt_fetch(orig->resultRelation, orig->rtable);
    Plan *child = select_child(orig, src, src_rti, target->relid, qs, bp);
    mt->plan.lefttree = child;
    return stmt;
}

PlannedStmt *call_prev_planner(Query *parse, const char *qs, int opts, ParamListInfo bp) {
    return prev_planner ? prev_planner(parse, qs, opts, bp) : standard_planner(parse, qs, opts, bp);
}

PlannedStmt *writes_planner(Query *parse, const char *qs, int opts, ParamListInfo bp) {
    Decision d = pg::guard([&] { return classify(parse); });
    if (d == kNotOurs) return call_prev_planner(parse, qs, opts, bp);
    Query *orig = static_cast<Query *>(copyObjectImpl(parse));  // the planner scribbles on its input
    PlannedStmt *stmt = call_prev_planner(parse, qs, opts, bp);
    return pg::guard([&]() -> PlannedStmt * {
        switch (d) {
            case kInsert: return plan_insert(stmt, orig, qs, bp);
            case kModify: return plan_modify(stmt, orig);
            case kLocalFromDist: return plan_local_from_dist(stmt, orig, qs, bp);
            default: return stmt;
        }
    });
}

// ---- executor depth --------------------------------------------------------------------------

void writes_executor_run(QueryDesc *qd, ScanDirection dir, uint64 count, bool execute_once) {
    executor_depth++;
    PG_TRY();
    {
        if (prev_run)
            prev_run(qd, dir, count, execute_once);
        else
            standard_ExecutorRun(qd, dir, count, execute_once);
    }
    PG_FINALLY();
    { executor_depth--; }
    PG_END_TRY();
}

// ExecutorFinish counts too: AFTER triggers fire there, and a write a trigger makes is never the whole
// transaction (the statement that fired it can still fail after it).
void writes_executor_finish(QueryDesc *qd) {
    executor_depth++;
    PG_TRY();
    {
        if (prev_finish)
            prev_finish(qd);
        else
            standard_ExecutorFinish(qd);
    }
    PG_FINALLY();
    { executor_depth--; }
    PG_END_TRY();
}

void writes_utility(PlannedStmt *pstmt, const char *qs, bool ro, ProcessUtilityContext context,
                    ParamListInfo params, QueryEnvironment *env, DestReceiver *dest, QueryCompletion *qc) {
    auto run_standard = [&](PlannedStmt *p) {
        if (prev_utility)
            prev_utility(p, qs, ro, context, params, env, dest, qc);
        else
            standard_ProcessUtility(p, qs, ro, context, params, env, dest, qc);
    };
    bool handled = pg::guard([&] {
        if (!metadata::any_distributed()) return false;
        if (commands::copy_distributed(pstmt, qs, qc, [&](PlannedStmt *p) { pg::call([&] { run_standard(p); }); }))
            return true;
        return commands::ddl_distributed(pstmt, qs, [&](PlannedStmt *p) { pg::call([&] { run_standard(p); }); });
    });
    if (handled) return;
    utility_depth++;
    PG_TRY();
    { run_standard(pstmt); }
    PG_FINALLY();
    { utility_depth--; }
    PG_END_TRY();
}

}  // namespace

bool statement_is_whole_transaction(int expected_depth) {
    if (IsTransactionBlock() || executor_depth != expected_depth || utility_depth != 0 || xact::force_remote_transactions())
        return false;
    // The coordinator already changed something of its own (e.g. a CTE wrote a local table): a node
    // must not commit before the coordinator's transaction does.
    if (TransactionIdIsValid(GetTopTransactionIdIfAny())) return false;
    for (conn::Connection *c : conn::all())
        if (c->xact != conn::RemoteXact::None) return false;
    return true;
}

void ensure_no_settings_dependence(const Query *q, const metadata::DistTable &t) {
    if (!select::depends_on_output_settings(reinterpret_cast<Node *>(const_cast<Query *>(q)))) return;
    const bool upsert = q->commandType == CMD_INSERT && q->onConflict && q->onConflict->action == ONCONFLICT_UPDATE;
    const std::string what = upsert ? "INSERT ... ON CONFLICT DO UPDATE" : command_name(q->commandType);
    throw PgError(sqlstate::feature_not_supported,
                  what + " on distributed table \"" + t.relname +
                      "\" would compute on the shards a value that depends on DateStyle, IntervalStyle, "
                      "extra_float_digits or bytea_output",
                  "The shards run with canonical settings (ISO dates, ISO 8601 intervals), not this session's: "
                  "casts of dates, times, intervals, floats, money or bytea to or from text, and functions that "
                  "print such values, would store or return other values there.",
                  "Compute the value first (e.g. in a SELECT into a variable or a temporary table), or use "
                  "to_char() / to_date() with an explicit format.");
}

std::vector<int> shards_for_query(const Query *q, const metadata::DistTable &t) {
    std::vector<int> all(t.shard_count);
    std::iota(all.begin(), all.end(), 0);
    if (!q->jointree || !q->jointree->quals) return all;
    Node *quals = q->jointree->quals;
    List *conjuncts = pg::call([&] { return make_ands_implicit(reinterpret_cast<Expr *>(quals)); });
    ListCell *lc;
    foreach (lc, conjuncts) {
        Node *n = static_cast<Node *>(lfirst(lc));
        if (!IsA(n, OpExpr)) continue;
        OpExpr *op = reinterpret_cast<OpExpr *>(n);
        if (list_length(op->args) != 2) continue;
        Node *l = strip_relabel(static_cast<Node *>(linitial(op->args)));
        Node *r = strip_relabel(static_cast<Node *>(lsecond(op->args)));
        if (IsA(r, Var)) std::swap(l, r);
        if (!IsA(l, Var) || !IsA(r, Const)) continue;
        Var *v = reinterpret_cast<Var *>(l);
        Const *c = reinterpret_cast<Const *>(r);
        if (v->varlevelsup != 0 || v->varno != q->resultRelation || v->varattno != t.dist_attnum) continue;
        if (c->constisnull) continue;
        // the column's hash family's equality, also across its types (bigint column = int constant)
        Oid hash_func = metadata::pruning_hash_func(t, op->opno, c->consttype);
        if (!OidIsValid(hash_func)) continue;
        return {metadata::shard_index_with(t, hash_func, c->constvalue)};
    }
    return all;
}

void init() {
    modify::register_methods();
    prev_planner = planner_hook;
    planner_hook = writes_planner;
    prev_utility = ProcessUtility_hook;
    ProcessUtility_hook = writes_utility;
    prev_run = ExecutorRun_hook;
    ExecutorRun_hook = writes_executor_run;
    prev_finish = ExecutorFinish_hook;
    ExecutorFinish_hook = writes_executor_finish;
}

}  // namespace rollup::writes
