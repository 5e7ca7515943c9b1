// Shard pruning. Design note: only clauses that pin the distribution column with an equality of its
// default hash opclass's family prune (that is the hash the shards were placed with); a value of
// another type of the family (bigint column = int constant) is hashed with the family's function
// for its type, which hashes equal values alike (metadata::pruning_hash_func). Anything else keeps
// every shard, which is always correct. A NULL value pins no
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

void add_value(std::set<int> &out, const metadata::DistTable &t, Oid hash_func, Datum v, bool isnull) {
    if (!isnull) out.insert(metadata::shard_index_with(t, hash_func, v));
}

void add_array(std::set<int> &out, const metadata::DistTable &t, Oid hash_func, Datum arr) {
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
    for (int i = 0; i < e.n; i++) add_value(out, t, hash_func, e.values[i], e.nulls[i]);
}

// A clause that pins the distribution column: sets *value, *is_array and *hash_func (what places
// the value's type), else returns false.
bool pinning_clause(Node *clause, const metadata::DistTable &t, Index rti, Node **value, bool *is_array,
                    Oid *hash_func) {
    if (IsA(clause, OpExpr)) {
        OpExpr *op = reinterpret_cast<OpExpr *>(clause);
        if (list_length(op->args) != 2) return false;
        Node *l = static_cast<Node *>(linitial(op->args)), *r = static_cast<Node *>(lsecond(op->args));
        Node *other = is_dist_var(l, t, rti) ? r : is_dist_var(r, t, rti) ? l : nullptr;
        if (!other) return false;
        if (!IsA(other, Const) && !(IsA(other, Param) && reinterpret_cast<Param *>(other)->paramkind == PARAM_EXTERN))
            return false;
        *hash_func = metadata::pruning_hash_func(t, op->opno, exprType(other));
        if (!OidIsValid(*hash_func)) return false;
        *value = other;
        *is_array = false;
        return true;
    }
    if (IsA(clause, ScalarArrayOpExpr)) {
        ScalarArrayOpExpr *op = reinterpret_cast<ScalarArrayOpExpr *>(clause);
        if (!op->useOr || list_length(op->args) != 2) return false;
        if (!is_dist_var(static_cast<Node *>(linitial(op->args)), t, rti)) return false;
        Node *arr = static_cast<Node *>(lsecond(op->args));
        if (!IsA(arr, Const) && !(IsA(arr, Param) && reinterpret_cast<Param *>(arr)->paramkind == PARAM_EXTERN))
            return false;
        Oid elem = pg::call([&] { return get_element_type(exprType(arr)); });
        if (!OidIsValid(elem)) return false;
        *hash_func = metadata::pruning_hash_func(t, op->opno, elem);
        if (!OidIsValid(*hash_func)) return false;
        *value = arr;
        *is_array = true;
        return true;
    }
    return false;
}

}  // namespace

Pruning prune_at_plan_time(const metadata::DistTable &t, List *clauses, Index rti) {
    Pruning out;
    std::set<int> current;
    bool all = true;
    ListCell *lc;
    foreach (lc, clauses) {
        Node *value = nullptr;
        bool is_array = false;
        Oid hash_func = InvalidOid;
        if (!pinning_clause(static_cast<Node *>(lfirst(lc)), t, rti, &value, &is_array, &hash_func)) continue;
        if (IsA(value, Param)) {
            out.prune_exprs = pg::call([&] {
                return lappend(out.prune_exprs, list_make3(makeInteger(is_array ? 1 : 0), copyObjectImpl(value),
                                                           makeInteger(static_cast<int>(hash_func))));
            });
            continue;
        }
        Const *c = reinterpret_cast<Const *>(value);
        std::set<int> these;
        if (!c->constisnull) {
            if (is_array)
                add_array(these, t, hash_func, c->constvalue);
            else
                add_value(these, t, hash_func, c->constvalue, false);
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
        Oid hash_func = static_cast<Oid>(intVal(lthird(item)));
        bool isnull = false;
        Datum v = pg::call([&] {
            ExprState *st = ExecInitExpr(expr, NULL);
            return ExecEvalExprSwitchContext(st, econtext, &isnull);
        });
        std::set<int> these;
        if (!isnull) {
            if (is_array)
                add_array(these, t, hash_func, v);
            else
                add_value(these, t, hash_func, v, false);
        }
        std::set<int> both;
        std::set_intersection(current.begin(), current.end(), these.begin(), these.end(),
                              std::inserter(both, both.begin()));
        current = both;
    }
    return std::vector<int>(current.begin(), current.end());
}

}  // namespace rollup::select
