// Whole-query pushdown. Design note: a SELECT whose relations are all distributed tables of one
// co-location group, joined so that every output row is made of rows of one shard index, runs per
// shard index: the nodes do the joins (and more), the coordinator only merges.
//
// When a join keeps rows of one shard index together: an inner join (or a WHERE conjunct) equating
// the distribution columns of its two sides, with the hash opclass's own equality (strict, so both
// values are non-NULL and hash alike, hence live in shards of the same index); an outer join only
// when that equality is in its own ON clause (an unmatched row then has no partner in any shard, so
// the null-extended row is the same per shard as globally). Every group of inner-joined units must
// be connected by such equalities. Anything else (local tables, VALUES, functions, subqueries,
// sublinks, CTEs, non-co-located tables) keeps the per-table fallback.
//
// Two shapes, both built as a rewritten coordinator query over one placeholder VALUES relation
// whose only path becomes a RollupScan (reads.cpp) that runs `inner` on every shard index:
//  - Query (whole query per shard): no aggregation, or GROUP BY holds a distribution column of a
//    relation that no outer join can null (the NULL group of a nullable side would come from every
//    shard). The coordinator re-applies DISTINCT, ORDER BY and LIMIT/OFFSET. LIMIT n OFFSET m is
//    sent as LIMIT n + m with the ORDER BY when there is no DISTINCT: the first n + m rows of the
//    whole result are among the first n + m rows of the shards that hold them. A single-table
//    query takes this shape only for that LIMIT (the rest is reads.cpp's business).
//  - JoinScan (the join per shard): the shards return the columns the rest of the query needs;
//    aggregation, window functions, DISTINCT, ORDER BY and LIMIT run on the coordinator.
// The original relations stay in the rewritten query's range table (outside its join tree) so that
// permissions are checked and cached plans are invalidated as for the original.
#include <map>
#include <set>
#include <vector>

#include "planner/select_internal.hpp"

namespace rollup::select {

namespace {

Node *strip(Node *n) {
    while (n && IsA(n, RelabelType)) n = reinterpret_cast<Node *>(reinterpret_cast<RelabelType *>(n)->arg);
    return n;
}

struct Analysis {
    Query *q = nullptr;
    const metadata::DistTable *rep = nullptr;  // the first relation
    Oid eqop = InvalidOid;                      // hash equality of the distribution type
    std::set<int> rels;                         // rtindexes of the relations
    std::set<int> nullable;                     // of those, on the nullable side of an outer join
    bool ok = true;
};

// A Var resolved through join alias Vars to a column of a relation, or nullptr.
Var *base_var(const Query *q, Node *n) {
    n = strip(n);
    while (n && IsA(n, Var)) {
        Var *v = reinterpret_cast<Var *>(n);
        if (v->varlevelsup != 0 || v->varattno <= 0) return nullptr;
        RangeTblEntry *rte = rt_fetch(v->varno, q->rtable);
        if (rte->rtekind == RTE_RELATION) return v;
        if (rte->rtekind != RTE_JOIN || v->varattno > list_length(rte->joinaliasvars)) return nullptr;
        n = strip(static_cast<Node *>(list_nth(rte->joinaliasvars, v->varattno - 1)));
    }
    return nullptr;
}

// The rtindex of the relation whose distribution column `n` is, or 0.
int dist_rel(const Analysis &a, Node *n) {
    Var *v = base_var(a.q, n);
    if (!v) return 0;
    const metadata::DistTable *t = metadata::lookup(rt_fetch(v->varno, a.q->rtable)->relid);
    return t && v->varattno == t->dist_attnum ? v->varno : 0;
}

// An equality of two relations' distribution columns: their rtindexes, else {0, 0}.
std::pair<int, int> link(const Analysis &a, Node *clause) {
    if (!clause || !IsA(clause, OpExpr)) return {0, 0};
    OpExpr *op = reinterpret_cast<OpExpr *>(clause);
    if (op->opno != a.eqop || list_length(op->args) != 2) return {0, 0};
    int l = dist_rel(a, static_cast<Node *>(linitial(op->args)));
    int r = dist_rel(a, static_cast<Node *>(lsecond(op->args)));
    if (!l || !r || l == r) return {0, 0};
    return {l, r};
}

List *conjuncts(Node *quals) {
    if (!quals) return NIL;
    return pg::call([&] { return make_ands_implicit(reinterpret_cast<Expr *>(quals)); });
}

std::set<int> group_rels(Analysis &a, Node *node, bool nullable);

std::set<int> unit_rels(Analysis &a, Node *node, bool nullable) {
    if (IsA(node, RangeTblRef)) {
        int rti = reinterpret_cast<RangeTblRef *>(node)->rtindex;
        RangeTblEntry *rte = rt_fetch(rti, a.q->rtable);
        const metadata::DistTable *t = rte->rtekind == RTE_RELATION ? metadata::lookup(rte->relid) : nullptr;
        if (!t || rte->tablesample || rte->securityQuals != NIL) {
            a.ok = false;
            return {};
        }
        if (!a.rep) a.rep = t;
        if (t->colocationid != a.rep->colocationid || t->shard_count != a.rep->shard_count) a.ok = false;
        a.rels.insert(rti);
        if (nullable) a.nullable.insert(rti);
        return {rti};
    }
    if (IsA(node, JoinExpr)) {
        JoinExpr *j = reinterpret_cast<JoinExpr *>(node);
        if (j->jointype == JOIN_LEFT || j->jointype == JOIN_RIGHT || j->jointype == JOIN_FULL) {
            bool left_nullable = j->jointype != JOIN_LEFT;
            bool right_nullable = j->jointype != JOIN_RIGHT;
            std::set<int> l = group_rels(a, j->larg, nullable || left_nullable);
            std::set<int> r = group_rels(a, j->rarg, nullable || right_nullable);
            bool linked = false;
            List *cs = conjuncts(j->quals);
            ListCell *lc;
            foreach (lc, cs) {
                auto [x, y] = link(a, static_cast<Node *>(lfirst(lc)));
                if ((l.count(x) && r.count(y)) || (l.count(y) && r.count(x))) linked = true;
            }
            if (!linked) a.ok = false;
            l.insert(r.begin(), r.end());
            return l;
        }
    }
    return group_rels(a, node, nullable);
}

// Flattens a tree of inner joins into its units (relations and outer joins) and conjuncts.
void inner_group(Analysis &a, Node *node, std::vector<std::set<int>> &units, std::vector<Node *> &quals,
                 bool nullable) {
    if (!a.ok) return;
    if (IsA(node, FromExpr)) {
        FromExpr *f = reinterpret_cast<FromExpr *>(node);
        ListCell *lc;
        foreach (lc, f->fromlist) inner_group(a, static_cast<Node *>(lfirst(lc)), units, quals, nullable);
        List *cs = conjuncts(f->quals);
        foreach (lc, cs) quals.push_back(static_cast<Node *>(lfirst(lc)));
    } else if (IsA(node, JoinExpr) && reinterpret_cast<JoinExpr *>(node)->jointype == JOIN_INNER) {
        JoinExpr *j = reinterpret_cast<JoinExpr *>(node);
        inner_group(a, j->larg, units, quals, nullable);
        inner_group(a, j->rarg, units, quals, nullable);
        List *cs = conjuncts(j->quals);
        ListCell *lc;
        foreach (lc, cs) quals.push_back(static_cast<Node *>(lfirst(lc)));
    } else if (IsA(node, RangeTblRef) || IsA(node, JoinExpr)) {
        units.push_back(unit_rels(a, node, nullable));
    } else {
        a.ok = false;
    }
}

std::set<int> group_rels(Analysis &a, Node *node, bool nullable) {
    std::vector<std::set<int>> units;
    std::vector<Node *> quals;
    inner_group(a, node, units, quals, nullable);
    std::vector<size_t> parent(units.size());
    for (size_t i = 0; i < parent.size(); i++) parent[i] = i;
    auto find = [&](size_t i) {
        while (parent[i] != i) i = parent[i] = parent[parent[i]];
        return i;
    };
    auto unit_of = [&](int rti) -> size_t {
        for (size_t i = 0; i < units.size(); i++)
            if (units[i].count(rti)) return i;
        return units.size();
    };
    for (Node *c : quals) {
        auto [x, y] = link(a, c);
        if (!x) continue;
        size_t ux = unit_of(x), uy = unit_of(y);
        if (ux < units.size() && uy < units.size()) parent[find(ux)] = find(uy);
    }
    std::set<int> all;
    for (size_t i = 0; i < units.size(); i++) {
        if (find(i) != find(0)) a.ok = false;
        all.insert(units[i].begin(), units[i].end());
    }
    return all;
}

void collect_quals(Node *node, List **out) {
    if (!node) return;
    if (IsA(node, FromExpr)) {
        FromExpr *f = reinterpret_cast<FromExpr *>(node);
        ListCell *lc;
        foreach (lc, f->fromlist) collect_quals(static_cast<Node *>(lfirst(lc)), out);
        if (f->quals) *out = pg::call([&] { return lappend(*out, f->quals); });
    } else if (IsA(node, JoinExpr)) {
        JoinExpr *j = reinterpret_cast<JoinExpr *>(node);
        collect_quals(j->larg, out);
        collect_quals(j->rarg, out);
        if (j->quals) *out = pg::call([&] { return lappend(*out, j->quals); });
    }
}

bool has_resjunk(List *tlist) {
    ListCell *lc;
    foreach (lc, tlist)
        if (lfirst_node(TargetEntry, lc)->resjunk) return true;
    return false;
}

// Whether GROUP BY holds the distribution column of a relation no outer join can null.
bool groups_by_dist_column(const Analysis &a) {
    ListCell *lc;
    foreach (lc, a.q->groupClause) {
        SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
        Node *e = pg::call([&] { return get_sortgroupclause_expr(sgc, a.q->targetList); });
        int rti = dist_rel(a, e);
        if (rti && !a.nullable.count(rti)) return true;
    }
    return false;
}

struct VarMap {
    List *vars;  // distinct Vars, in order; the placeholder's column k is vars[k-1]
};

Node *replace_vars(Node *node, VarMap *m) {
    if (!node) return nullptr;
    if (IsA(node, Var) && reinterpret_cast<Var *>(node)->varlevelsup == 0) {
        Var *v = reinterpret_cast<Var *>(node);
        int k = 1;
        ListCell *lc;
        foreach (lc, m->vars) {
            if (equal(lfirst(lc), v)) break;
            k++;
        }
        return reinterpret_cast<Node *>(makeVar(1, static_cast<AttrNumber>(k), v->vartype, v->vartypmod, v->varcollid, 0));
    }
    return expression_tree_mutator(node, reinterpret_cast<Node *(*)()>(replace_vars), m);
}

// The placeholder relation: one row of typed NULLs, never scanned (its path is replaced).
RangeTblEntry *placeholder(List *tlist) {
    RangeTblEntry *rte = makeNode(RangeTblEntry);
    rte->rtekind = RTE_VALUES;
    List *row = NIL, *names = NIL;
    ListCell *lc;
    int k = 1;
    foreach (lc, tlist) {
        TargetEntry *tle = lfirst_node(TargetEntry, lc);
        Node *e = reinterpret_cast<Node *>(tle->expr);
        Oid type = exprType(e), coll = exprCollation(e);
        int32 typmod = exprTypmod(e);
        int16 len;
        bool byval;
        get_typlenbyval(type, &len, &byval);
        row = lappend(row, makeConst(type, typmod, coll, len, 0, true, byval));
        rte->coltypes = lappend_oid(rte->coltypes, type);
        rte->coltypmods = lappend_int(rte->coltypmods, typmod);
        rte->colcollations = lappend_oid(rte->colcollations, coll);
        names = lappend(names, makeString(tle->resname ? pstrdup(tle->resname) : psprintf("c%d", k)));
        k++;
    }
    rte->values_lists = list_make1(row);
    rte->eref = makeAlias("rollup_remote", names);
    rte->inFromCl = true;
    return rte;
}

// The coordinator's query: over the placeholder (rtindex 1), the original relations kept after it.
Query *coordinator_query(const Query *q, RangeTblEntry *rte) {
    Query *outer = static_cast<Query *>(copyObjectImpl(q));
    List *rtable = list_make1(rte);
    ListCell *lc;
    foreach (lc, q->rtable) {
        RangeTblEntry *r = static_cast<RangeTblEntry *>(lfirst(lc));
        if (r->rtekind == RTE_RELATION) rtable = lappend(rtable, copyObjectImpl(r));
    }
    outer->rtable = rtable;
    outer->jointree = makeFromExpr(list_make1(makeNode(RangeTblRef)), nullptr);
    linitial_node(RangeTblRef, outer->jointree->fromlist)->rtindex = 1;
    return outer;
}

Pushdown build_query_shape(const Analysis &a, bool push_limit) {
    const Query *q = a.q;
    Query *inner = static_cast<Query *>(copyObjectImpl(q));
    bool junk = has_resjunk(q->targetList);
    ListCell *lc;
    foreach (lc, inner->targetList) {
        TargetEntry *tle = lfirst_node(TargetEntry, lc);
        if (tle->resjunk || !tle->resname) tle->resname = psprintf("junk%d", tle->resno);
        tle->resjunk = false;
    }
    if (junk || q->hasDistinctOn) {
        inner->distinctClause = NIL;
        inner->hasDistinctOn = false;
    }
    inner->limitOffset = nullptr;
    inner->limitCount = nullptr;
    inner->limitOption = LIMIT_OPTION_DEFAULT;
    if (push_limit) {
        inner->limitOption = LIMIT_OPTION_COUNT;
        inner->limitCount = q->limitOffset
                                ? reinterpret_cast<Node *>(makeFuncExpr(F_INT8PL, INT8OID,
                                                                        list_make2(copyObjectImpl(q->limitCount),
                                                                                   copyObjectImpl(q->limitOffset)),
                                                                        InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL))
                                : static_cast<Node *>(copyObjectImpl(q->limitCount));
    } else {
        inner->sortClause = NIL;
    }

    RangeTblEntry *rte = placeholder(inner->targetList);
    Query *outer = coordinator_query(q, rte);
    List *tlist = NIL;
    foreach (lc, q->targetList) {
        TargetEntry *tle = lfirst_node(TargetEntry, lc);
        Node *e = reinterpret_cast<Node *>(tle->expr);
        Var *v = makeVar(1, tle->resno, exprType(e), exprTypmod(e), exprCollation(e), 0);
        TargetEntry *n = makeTargetEntry(reinterpret_cast<Expr *>(v), tle->resno, tle->resname, tle->resjunk);
        n->ressortgroupref = tle->ressortgroupref;
        n->resorigtbl = tle->resorigtbl;
        n->resorigcol = tle->resorigcol;
        tlist = lappend(tlist, n);
    }
    outer->targetList = tlist;
    outer->hasAggs = false;
    outer->groupClause = NIL;
    outer->groupingSets = NIL;
    outer->havingQual = nullptr;
    outer->groupDistinct = false;
    return {outer, rte, inner, Mode::Query};
}

Pushdown build_join_shape(const Analysis &a) {
    const Query *q = a.q;
    VarMap m{NIL};
    List *vars = pull_var_clause(reinterpret_cast<Node *>(q->targetList),
                                 PVC_RECURSE_AGGREGATES | PVC_RECURSE_WINDOWFUNCS | PVC_RECURSE_PLACEHOLDERS);
    vars = list_concat(vars, pull_var_clause(q->havingQual, PVC_RECURSE_AGGREGATES | PVC_RECURSE_WINDOWFUNCS |
                                                                PVC_RECURSE_PLACEHOLDERS));
    ListCell *lc;
    foreach (lc, vars) m.vars = list_append_unique(m.vars, lfirst(lc));

    Query *inner = static_cast<Query *>(copyObjectImpl(q));
    List *tlist = NIL;
    int k = 1;
    foreach (lc, m.vars) {
        tlist = lappend(tlist, makeTargetEntry(static_cast<Expr *>(copyObjectImpl(lfirst(lc))), k, psprintf("c%d", k), false));
        k++;
    }
    if (tlist == NIL)  // e.g. count(*): the shards return one column per joined row
        tlist = list_make1(makeTargetEntry(reinterpret_cast<Expr *>(makeConst(INT4OID, -1, InvalidOid, 4, Int32GetDatum(1), false, true)),
                                           1, pstrdup("c1"), false));
    inner->targetList = tlist;
    inner->hasAggs = false;
    inner->hasWindowFuncs = false;
    inner->windowClause = NIL;
    inner->groupClause = NIL;
    inner->groupingSets = NIL;
    inner->groupDistinct = false;
    inner->havingQual = nullptr;
    inner->sortClause = NIL;
    inner->distinctClause = NIL;
    inner->hasDistinctOn = false;
    inner->limitOffset = nullptr;
    inner->limitCount = nullptr;
    inner->limitOption = LIMIT_OPTION_DEFAULT;

    RangeTblEntry *rte = placeholder(tlist);
    Query *outer = coordinator_query(q, rte);
    outer->targetList = reinterpret_cast<List *>(replace_vars(reinterpret_cast<Node *>(outer->targetList), &m));
    outer->havingQual = replace_vars(outer->havingQual, &m);
    return {outer, rte, inner, Mode::JoinScan};
}

bool sortclauses_builtin(List *l) {
    ListCell *lc;
    foreach (lc, l) {
        SortGroupClause *s = lfirst_node(SortGroupClause, lc);
        if (s->eqop >= FirstNormalObjectId || s->sortop >= FirstNormalObjectId) return false;
    }
    return true;
}

}  // namespace

Pushdown plan_pushdown(Query *q) {
    Pushdown none{};
    if (q->commandType != CMD_SELECT || q->utilityStmt || q->cteList || q->setOperations || q->hasSubLinks ||
        q->rowMarks || q->hasModifyingCTE || q->hasRecursive || q->hasTargetSRFs || !q->jointree ||
        q->jointree->fromlist == NIL)
        return none;
    int nrels = 0;
    ListCell *lc;
    foreach (lc, q->rtable) {
        RangeTblEntry *rte = static_cast<RangeTblEntry *>(lfirst(lc));
        if (rte->rtekind == RTE_RELATION) {
            if (!metadata::lookup(rte->relid)) return none;
            nrels++;
        } else if (rte->rtekind != RTE_JOIN) {
            return none;
        }
    }
    bool plain = !q->hasAggs && q->groupClause == NIL && q->groupingSets == NIL && !q->havingQual &&
                 !q->hasWindowFuncs;
    // LIMIT / OFFSET expressions go through the same shippability check as every other expression
    // (a volatile coordinator-only function in LIMIT must not be sent to the shards).
    bool push_limit = plain && q->limitCount && q->limitOption == LIMIT_OPTION_COUNT && q->distinctClause == NIL &&
                      is_shippable_anywhere(q->limitCount, false) &&
                      (!q->limitOffset || is_shippable_anywhere(q->limitOffset, false));
    if (nrels == 0 || (nrels == 1 && !push_limit)) return none;

    Analysis a;
    a.q = q;
    foreach (lc, q->rtable) {
        RangeTblEntry *rte = static_cast<RangeTblEntry *>(lfirst(lc));
        if (rte->rtekind == RTE_RELATION) {
            a.rep = metadata::lookup(rte->relid);
            break;
        }
    }
    a.eqop = a.rep->hash_eqop;
    if (!OidIsValid(a.eqop)) return none;
    group_rels(a, reinterpret_cast<Node *>(q->jointree), false);
    if (!a.ok || static_cast<int>(a.rels.size()) != nrels) return none;

    List *quals = NIL;
    collect_quals(reinterpret_cast<Node *>(q->jointree), &quals);
    if (!is_shippable_anywhere(reinterpret_cast<Node *>(quals), false)) return none;

    bool whole = plain || (!q->hasWindowFuncs && q->groupingSets == NIL && q->groupClause != NIL &&
                           groups_by_dist_column(a));
    List *exprs = NIL;
    foreach (lc, q->targetList)
        exprs = pg::call([&] { return lappend(exprs, lfirst_node(TargetEntry, lc)->expr); });
    if (whole && is_shippable_anywhere(reinterpret_cast<Node *>(exprs), true) &&
        is_shippable_anywhere(q->havingQual, true) && sortclauses_builtin(q->groupClause) &&
        sortclauses_builtin(q->distinctClause) && sortclauses_builtin(q->sortClause))
        return pg::call([&] { return build_query_shape(a, push_limit); });
    if (nrels < 2) return none;
    // The join alone: the columns the rest needs must be plain columns the shards can print.
    List *vars = pg::call([&] {
        List *v = pull_var_clause(reinterpret_cast<Node *>(q->targetList),
                                  PVC_RECURSE_AGGREGATES | PVC_RECURSE_WINDOWFUNCS | PVC_RECURSE_PLACEHOLDERS);
        return list_concat(v, pull_var_clause(q->havingQual, PVC_RECURSE_AGGREGATES | PVC_RECURSE_WINDOWFUNCS |
                                                                 PVC_RECURSE_PLACEHOLDERS));
    });
    if (!is_shippable_anywhere(reinterpret_cast<Node *>(vars), false)) return none;
    return pg::call([&] { return build_join_shape(a); });
}

}  // namespace rollup::select
