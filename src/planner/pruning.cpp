// Shard pruning. Design note: only clauses that pin the distribution column to values with the
// column's own type and the equality of its default hash opclass prune (that is the hash the shards
// were placed with); anything else keeps every shard, which is always correct. A NULL value pins no
// shard (`=` is never true for NULL). Clauses whose values are external Params (prepared statements,
// PL/pgSQL variables) prune at execution, once the values are known.
#include <algorithm>
#include <set>
#include <vector>

#include "planner/select_internal.hpp"

namespace rollup::select {

namespace {

bool is_dist_var(Node *n, const metadata::DistTable &t, Index rti) {
    while (n && IsA(n, RelabelType)) n = reinterpret_cast<Node *>(reinterpret_cast<RelabelType *>(n)->arg);
    if (!n || !IsA(n, Var)) return false;
    Var *v = reinterpret_cast<Var *>(n);
    return v->varno == static_cast<int>(rti) && v->varlevelsup == 0 && v->varattno == t.dist_attnum;
}

Oid hash_equality(Oid type) {
    Oid opclass = GetDefaultOpClass(type, HASH_AM_OID);
    if (!OidIsValid(opclass)) return InvalidOid;
    Oid family = get_opclass_family(opclass);
    return get_opfamily_member(family, type, type, HTEqualStrategyNumber);
}

void add_value(std::set<int> &out, const metadata::DistTable &t, Datum v, bool isnull) {
    if (!isnull) out.insert(metadata::shard_index_for_value(t, v));
}

void add_array(std::set<int> &out, const metadata::DistTable &t, Datum arr) {
    struct Elems {
        Datum *values;
        bool *nulls;
        int n;
    };
    Elems e = pg::call([&] {
        ArrayType *a = DatumGetArrayTypeP(arr);
        int16 typlen;
        bool typbyval;
        char typalign;
        Elems r{nullptr, nullptr, 0};
        get_typlenbyvalalign(ARR_ELEMTYPE(a), &typlen, &typbyval, &typalign);
        deconstruct_array(a, ARR_ELEMTYPE(a), typlen, typbyval, typalign, &r.values, &r.nulls, &r.n);
        return r;
    });
    for (int i = 0; i < e.n; i++) add_value(out, t, e.values[i], e.nulls[i]);
}

// A clause that pins the distribution column: sets *value and *is_array, else returns false.
bool pinning_clause(Node *clause, const metadata::DistTable &t, Index rti, Oid eqop, Node **value, bool *is_array) {
    if (IsA(clause, OpExpr)) {
        OpExpr *op = reinterpret_cast<OpExpr *>(clause);
        if (op->opno != eqop || list_length(op->args) != 2) return false;
        Node *l = static_cast<Node *>(linitial(op->args)), *r = static_cast<Node *>(lsecond(op->args));
        Node *other = is_dist_var(l, t, rti) ? r : is_dist_var(r, t, rti) ? l : nullptr;
        if (!other || exprType(other) != t.dist_type) return false;
        if (!IsA(other, Const) && !(IsA(other, Param) && reinterpret_cast<Param *>(other)->paramkind == PARAM_EXTERN))
            return false;
        *value = other;
        *is_array = false;
        return true;
    }
    if (IsA(clause, ScalarArrayOpExpr)) {
        ScalarArrayOpExpr *op = reinterpret_cast<ScalarArrayOpExpr *>(clause);
        if (!op->useOr || op->opno != eqop || list_length(op->args) != 2) return false;
        if (!is_dist_var(static_cast<Node *>(linitial(op->args)), t, rti)) return false;
        Node *arr = static_cast<Node *>(lsecond(op->args));
        if (get_element_type(exprType(arr)) != t.dist_type) return false;
        if (!IsA(arr, Const) && !(IsA(arr, Param) && reinterpret_cast<Param *>(arr)->paramkind == PARAM_EXTERN))
            return false;
        *value = arr;
        *is_array = true;
        return true;
    }
    return false;
}

}  // namespace

Pruning prune_at_plan_time(const metadata::DistTable &t, List *clauses, Index rti) {
    Pruning out;
    Oid eqop = pg::call([&] { return hash_equality(t.dist_type); });
    if (!OidIsValid(eqop)) return out;
    std::set<int> current;
    bool all = true;
    ListCell *lc;
    foreach (lc, clauses) {
        Node *value = nullptr;
        bool is_array = false;
        if (!pinning_clause(static_cast<Node *>(lfirst(lc)), t, rti, eqop, &value, &is_array)) continue;
        if (IsA(value, Param)) {
            out.prune_exprs = pg::call([&] {
                return lappend(out.prune_exprs, list_make2(makeInteger(is_array ? 1 : 0), copyObjectImpl(value)));
            });
            continue;
        }
        Const *c = reinterpret_cast<Const *>(value);
        std::set<int> these;
        if (!c->constisnull) {
            if (is_array)
                add_array(these, t, c->constvalue);
            else
                add_value(these, t, c->constvalue, false);
        }
        if (all) {
            current = these;
            all = false;
        } else {
            std::set<int> both;
            std::set_intersection(current.begin(), current.end(), these.begin(), these.end(),
                                  std::inserter(both, both.begin()));
            current = both;
        }
    }
    out.all = all;
    out.shards.assign(current.begin(), current.end());
    return out;
}

namespace {

// Conjuncts that filter the whole result: WHERE and inner joins' ON, not below an outer join.
void top_conjuncts(Node *node, List **out) {
    if (!node) return;
    Node *quals = nullptr;
    if (IsA(node, FromExpr)) {
        FromExpr *f = reinterpret_cast<FromExpr *>(node);
        ListCell *lc;
        foreach (lc, f->fromlist) top_conjuncts(static_cast<Node *>(lfirst(lc)), out);
        quals = f->quals;
    } else if (IsA(node, JoinExpr) && reinterpret_cast<JoinExpr *>(node)->jointype == JOIN_INNER) {
        JoinExpr *j = reinterpret_cast<JoinExpr *>(node);
        top_conjuncts(j->larg, out);
        top_conjuncts(j->rarg, out);
        quals = j->quals;
    }
    if (quals) *out = pg::call([&] { return list_concat(*out, make_ands_implicit(reinterpret_cast<Expr *>(quals))); });
}

}  // namespace

std::vector<int> prune_pushdown(const Query *q, const metadata::DistTable &rep) {
    List *clauses = NIL;
    top_conjuncts(reinterpret_cast<Node *>(q->jointree), &clauses);
    std::set<int> current;
    for (int i = 0; i < rep.shard_count; i++) current.insert(i);
    int rti = 0;
    ListCell *lc;
    foreach (lc, q->rtable) {
        rti++;
        RangeTblEntry *rte = static_cast<RangeTblEntry *>(lfirst(lc));
        if (rte->rtekind != RTE_RELATION) continue;
        const metadata::DistTable *t = metadata::lookup(rte->relid);
        if (!t) continue;
        // Only constants prune here (the query was folded); Params left unfolded keep every shard.
        Pruning p = prune_at_plan_time(*t, clauses, static_cast<Index>(rti));
        if (p.all) continue;
        std::set<int> both;
        for (int s : p.shards)
            if (current.count(s)) both.insert(s);
        current = both;
    }
    return std::vector<int>(current.begin(), current.end());
}

std::vector<int> prune_at_execution(const metadata::DistTable &t, const ScanSpec &spec, ExprContext *econtext) {
    std::set<int> current;
    if (spec.all_shards) {
        for (int i = 0; i < t.shard_count; i++) current.insert(i);
    } else {
        ListCell *lc;
        foreach (lc, spec.shards) current.insert(lfirst_int(lc));
    }
    ListCell *lc;
    foreach (lc, spec.prune_exprs) {
        List *item = static_cast<List *>(lfirst(lc));
        bool is_array = intVal(linitial(item)) != 0;
        Expr *expr = static_cast<Expr *>(lsecond(item));
        bool isnull = false;
        Datum v = pg::call([&] {
            ExprState *st = ExecInitExpr(expr, NULL);
            return ExecEvalExprSwitchContext(st, econtext, &isnull);
        });
        std::set<int> these;
        if (!isnull) {
            if (is_array)
                add_array(these, t, v);
            else
                add_value(these, t, v, false);
        }
        std::set<int> both;
        std::set_intersection(current.begin(), current.end(), these.begin(), these.end(),
                              std::inserter(both, both.begin()));
        current = both;
    }
    return std::vector<int>(current.begin(), current.end());
}

}  // namespace rollup::select
