// See time_buckets.hpp (what and when) and core/time_bucket.hpp (why it is exact).
#include <initializer_list>
#include <vector>

#include "core/time_bucket.hpp"

#include "planner/time_buckets.hpp"

namespace rollup::deparse {

namespace {

bool rewrite_guc = true;

constexpr int64 kUsecMinute = INT64CONST(60000000);
constexpr int64 kUsecHour = INT64CONST(3600000000);
constexpr int64 kUnixToPostgres = INT64CONST(946684800);  // seconds from 1970-01-01 to 2000-01-01 UTC

// ---- the zone's offsets (plain C++; pg_next_dst_boundary and pg_localtime never ereport) ----

// The zone's offsets from 1900 on, far enough that only its periodic rules remain.
core::OffsetHistory zone_history(const pg_tz *tz, bool *from_beginning) {
    core::OffsetHistory h;
    const pg_time_t start = -2208988800;    // 1900-01-01
    const pg_time_t limit = 16725225600;    // 2500-01-01
    pg_time_t t = start;
    *from_beginning = false;
    for (int n = 0; n < 5000; n++) {
        long before, after;
        int before_dst, after_dst;
        pg_time_t boundary;
        int r = pg_next_dst_boundary(&t, &before, &before_dst, &boundary, &after, &after_dst, tz);
        if (r < 0) return h;
        if (h.starts.empty()) {
            h.starts.push_back(start);
            h.offsets.push_back(before);
        }
        if (r == 0) {  // no more changes: the last offset holds forever
            *from_beginning = n == 0;  // never any change: the same offset before 1900 too
            h.complete = true;
            return h;
        }
        if (boundary < t) return h;  // no progress: give up (not complete)
        h.starts.push_back(boundary);
        h.offsets.push_back(after);
        if (boundary >= limit) {
            h.complete = true;
            return h;
        }
        t = boundary + 1;
    }
    return h;
}

int64 to_timestamptz(int64_t unix_seconds) {
    if (unix_seconds == core::kNoBegin) return DT_NOBEGIN;
    if (unix_seconds == core::kNoEnd) return DT_NOEND;
    return (unix_seconds - kUnixToPostgres) * USECS_PER_SEC;
}

struct ZoneFacts {
    const pg_tz *tz;
    int64 t0_second, t0_minute, t0_hour;
};

ZoneFacts compute_facts(const pg_tz *tz) {
    // Local time is UTC plus the offset: PostgreSQL refuses zones with leap seconds
    // (pg_tz_acceptable), so a zone's offsets are all there is to know.
    ZoneFacts f{tz, DT_NOEND, DT_NOEND, DT_NOEND};
    if (!tz) return f;
    bool from_beginning = false;
    core::OffsetHistory h = zone_history(tz, &from_beginning);
    f.t0_second = h.complete ? DT_NOBEGIN : DT_NOEND;  // offsets are whole seconds
    f.t0_minute = to_timestamptz(core::aligned_since(h, 60, from_beginning));
    f.t0_hour = to_timestamptz(core::aligned_since(h, 3600, from_beginning));
    return f;
}

// ---- the rewrite (C-style, inside pg::call) ----

struct Ctx {
    const TimeBucketContext *tb;
    bool filter;  // comparisons may become comparisons of x (row-level: WHERE, JOIN ON, scan quals)
};

Node *mutate(Node *node, Ctx *ctx);

// A date_trunc call this can rewrite: its unit in microseconds and argument; 0 if not.
// Only the timestamptz form: date_trunc on timestamp without time zone is immutable, so users index
// it (often as date_trunc('minute', t AT TIME ZONE 'UTC')), and a rewritten expression would no
// longer match such an index; it also costs no zone lookup to begin with.
int64 trunc_unit(Node *node, Node **arg) {
    if (!node || !IsA(node, FuncExpr)) return 0;
    FuncExpr *f = reinterpret_cast<FuncExpr *>(node);
    if (f->funcid != F_DATE_TRUNC_TEXT_TIMESTAMPTZ || list_length(f->args) != 2) return 0;
    Node *u = static_cast<Node *>(linitial(f->args));
    if (!IsA(u, Const) || reinterpret_cast<Const *>(u)->constisnull ||
        reinterpret_cast<Const *>(u)->consttype != TEXTOID)
        return 0;
    Node *x = static_cast<Node *>(lsecond(f->args));
    if (contain_volatile_functions(x)) return 0;
    text *t = DatumGetTextPP(reinterpret_cast<Const *>(u)->constvalue);
    char *low = downcase_truncate_identifier(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), false);
    int val = 0;
    int type = DecodeUnits(0, low, &val);
    pfree(low);
    if (type != UNITS) return 0;
    *arg = x;
    switch (val) {  // not days and longer: they follow the zone's calendar
        case DTK_MICROSEC: return 1;
        case DTK_MILLISEC: return 1000;
        case DTK_SECOND: return USECS_PER_SEC;
        case DTK_MINUTE: return kUsecMinute;
        case DTK_HOUR: return kUsecHour;
        default: return 0;
    }
}

// From when date_trunc(unit, x) equals the epoch-aligned floor of x.
int64 t0_for(int64 unit, const TimeBucketContext *tb) {
    if (unit == kUsecHour) return tb->t0_hour;
    if (unit == kUsecMinute) return tb->t0_minute;
    return tb->t0_second;
}

Const *tstz_const(int64 v) {
    return makeConst(TIMESTAMPTZOID, -1, InvalidOid, sizeof(int64), Int64GetDatum(v), false, FLOAT8PASSBYVAL);
}

// x >= v (ge) or x < v
Expr *compare(Node *x, int64 v, bool ge) {
    OpExpr *op = reinterpret_cast<OpExpr *>(make_opclause(ge ? 1325 : 1322, BOOLOID, false,
                                                          static_cast<Expr *>(copyObjectImpl(x)),
                                                          reinterpret_cast<Expr *>(tstz_const(v)), InvalidOid,
                                                          InvalidOid));
    op->opfuncid = ge ? F_TIMESTAMPTZ_GE : F_TIMESTAMPTZ_LT;
    return reinterpret_cast<Expr *>(op);
}

// date_bin(unit, x, 2000-01-01 00:00 UTC)
Node *bin_call(Node *x, int64 unit) {
    Interval *iv = static_cast<Interval *>(palloc0(sizeof(Interval)));
    iv->time = unit;
    Const *stride = makeConst(INTERVALOID, -1, InvalidOid, sizeof(Interval), PointerGetDatum(iv), false, false);
    return reinterpret_cast<Node *>(makeFuncExpr(F_DATE_BIN_INTERVAL_TIMESTAMPTZ_TIMESTAMPTZ, TIMESTAMPTZOID,
                                                 list_make3(stride, x, tstz_const(0)), InvalidOid, InvalidOid,
                                                 COERCE_EXPLICIT_CALL));
}

// date_trunc(unit, x) as date_bin, with a CASE for the instants before the zone became aligned.
Node *rewrite_value(FuncExpr *f, Node *x, int64 unit, const TimeBucketContext *tb) {
    int64 t0 = t0_for(unit, tb);
    if (t0 == DT_NOEND) return nullptr;
    if (t0 == DT_NOBEGIN) return bin_call(static_cast<Node *>(copyObjectImpl(x)), unit);
    if (!IsA(x, Var)) return nullptr;  // the CASE evaluates x twice: only for a plain column
    CaseWhen *when = makeNode(CaseWhen);
    when->expr = compare(x, t0, true);
    when->result = reinterpret_cast<Expr *>(bin_call(static_cast<Node *>(copyObjectImpl(x)), unit));
    when->location = -1;
    CaseExpr *c = makeNode(CaseExpr);
    c->casetype = TIMESTAMPTZOID;
    c->casecollid = InvalidOid;
    c->arg = nullptr;
    c->args = list_make1(when);
    c->defresult = static_cast<Expr *>(copyObjectImpl(f));
    c->location = -1;
    return reinterpret_cast<Node *>(c);
}

// The bound of date_trunc(unit, x) <op> c (nothing: keep the original).
bool bound_of(core::CmpOp op, Datum c, int64 unit, const TimeBucketContext *tb, core::Bound *out) {
    *out = core::bound_for(op, DatumGetInt64(c), unit, t0_for(unit, tb), MIN_TIMESTAMP, END_TIMESTAMP);
    return out->ok;
}

// The bounds as comparisons of x (itself rewritten as a value), ANDed; nullptr if there are none.
Node *bounds_expr(Node *x, std::initializer_list<const core::Bound *> bounds, const TimeBucketContext *tb) {
    Ctx values{tb, false};
    Node *mx = mutate(x, &values);
    List *parts = NIL;
    for (const core::Bound *b : bounds) {
        if (b->has_lower) parts = lappend(parts, compare(mx, b->lower, true));
        if (b->has_upper) parts = lappend(parts, compare(mx, b->upper, false));
    }
    if (parts == NIL) return nullptr;  // (-infinity, infinity): true for every non-null x, as x = x is
    if (list_length(parts) == 1) return static_cast<Node *>(linitial(parts));
    return reinterpret_cast<Node *>(makeBoolExpr(AND_EXPR, parts, -1));
}

// date_trunc(unit, x) <op> constant (either side) as a comparison of x with a bound.
Node *rewrite_comparison(OpExpr *op, const TimeBucketContext *tb) {
    if (list_length(op->args) != 2) return nullptr;
    core::CmpOp cmp;
    switch (op->opno) {  // timestamptz = < <= > >=
        case 1320: cmp = core::CmpOp::Eq; break;
        case 1322: cmp = core::CmpOp::Lt; break;
        case 1323: cmp = core::CmpOp::Le; break;
        case 1324: cmp = core::CmpOp::Gt; break;
        case 1325: cmp = core::CmpOp::Ge; break;
        default: return nullptr;
    }
    Node *l = static_cast<Node *>(linitial(op->args));
    Node *r = static_cast<Node *>(lsecond(op->args));
    Node *x = nullptr;
    int64 unit = trunc_unit(l, &x);
    Node *c = r;
    if (unit == 0) {
        unit = trunc_unit(r, &x);
        c = l;
        switch (cmp) {  // c op trunc(x)  ->  trunc(x) op' c
            case core::CmpOp::Lt: cmp = core::CmpOp::Gt; break;
            case core::CmpOp::Le: cmp = core::CmpOp::Ge; break;
            case core::CmpOp::Gt: cmp = core::CmpOp::Lt; break;
            case core::CmpOp::Ge: cmp = core::CmpOp::Le; break;
            case core::CmpOp::Eq: break;
        }
    }
    if (unit == 0 || !IsA(c, Const) || reinterpret_cast<Const *>(c)->constisnull) return nullptr;
    core::Bound b;
    if (!bound_of(cmp, reinterpret_cast<Const *>(c)->constvalue, unit, tb, &b)) return nullptr;
    return bounds_expr(x, {&b}, tb);
}

// date_trunc(unit, x) <@ constant range (or range @> date_trunc(unit, x)), as the tutorial's rollup
// function filters: the range's bounds as comparisons of x. Empty ranges are left alone.
Node *rewrite_range(OpExpr *op, const TimeBucketContext *tb) {
    if (list_length(op->args) != 2) return nullptr;
    Oid fn = OidIsValid(op->opfuncid) ? op->opfuncid : get_opcode(op->opno);
    Node *elem, *range;
    if (fn == F_ELEM_CONTAINED_BY_RANGE) {
        elem = static_cast<Node *>(linitial(op->args));
        range = static_cast<Node *>(lsecond(op->args));
    } else if (fn == F_RANGE_CONTAINS_ELEM) {
        range = static_cast<Node *>(linitial(op->args));
        elem = static_cast<Node *>(lsecond(op->args));
    } else {
        return nullptr;
    }
    Node *x = nullptr;
    int64 unit = trunc_unit(elem, &x);
    if (unit == 0 || !IsA(range, Const)) return nullptr;
    Const *k = reinterpret_cast<Const *>(range);
    if (k->constisnull || k->consttype != TSTZRANGEOID) return nullptr;
    TypeCacheEntry *tc = lookup_type_cache(k->consttype, TYPECACHE_RANGE_INFO);
    RangeBound lower, upper;
    bool empty = false;
    range_deserialize(tc, DatumGetRangeTypeP(k->constvalue), &lower, &upper, &empty);
    if (empty) return nullptr;
    core::Bound lo, hi;
    if (!lower.infinite &&
        !bound_of(lower.inclusive ? core::CmpOp::Ge : core::CmpOp::Gt, lower.val, unit, tb, &lo))
        return nullptr;
    if (!upper.infinite &&
        !bound_of(upper.inclusive ? core::CmpOp::Le : core::CmpOp::Lt, upper.val, unit, tb, &hi))
        return nullptr;
    return bounds_expr(x, {&lo, &hi}, tb);
}

Node *mutate(Node *node, Ctx *ctx) {
    if (!node) return nullptr;
    if (IsA(node, Query)) {
        // Values everywhere; comparisons where rows are filtered or produced one by one (WHERE, JOIN
        // ON, aggregate arguments; the target list when nothing is grouped). Not in a grouped target
        // list or HAVING: x itself is not a grouped column there.
        Query *q = reinterpret_cast<Query *>(node);
        const bool row_level = !q->hasAggs && q->groupClause == NIL && q->groupingSets == NIL && !q->havingQual &&
                               !q->hasWindowFuncs;
        FromExpr *jointree = q->jointree;
        Query *shallow = static_cast<Query *>(palloc(sizeof(Query)));
        memcpy(shallow, q, sizeof(Query));
        shallow->jointree = nullptr;
        Ctx rest{ctx->tb, row_level};
        Query *nq = query_tree_mutator(shallow, reinterpret_cast<Node *(*)()>(mutate), &rest, 0);
        Ctx filters{ctx->tb, true};
        nq->jointree = reinterpret_cast<FromExpr *>(mutate(reinterpret_cast<Node *>(jointree), &filters));
        return reinterpret_cast<Node *>(nq);
    }
    if (IsA(node, OpExpr) && ctx->filter) {
        Node *out = rewrite_comparison(reinterpret_cast<OpExpr *>(node), ctx->tb);
        if (!out) out = rewrite_range(reinterpret_cast<OpExpr *>(node), ctx->tb);
        if (out) return out;
    }
    if (IsA(node, FuncExpr)) {
        Node *x = nullptr;
        int64 unit = trunc_unit(node, &x);
        if (unit != 0) {
            Ctx values{ctx->tb, false};
            Node *out = rewrite_value(reinterpret_cast<FuncExpr *>(node), mutate(x, &values), unit, ctx->tb);
            if (out) return out;
        }
    }
    if (IsA(node, Aggref)) {  // its arguments and FILTER are per row
        Ctx rows{ctx->tb, true};
        return expression_tree_mutator(node, reinterpret_cast<Node *(*)()>(mutate), &rows);
    }
    if (IsA(node, WindowFunc)) {
        Ctx values{ctx->tb, false};
        return expression_tree_mutator(node, reinterpret_cast<Node *(*)()>(mutate), &values);
    }
    return expression_tree_mutator(node, reinterpret_cast<Node *(*)()>(mutate), ctx);
}

}  // namespace

TimeBucketContext time_bucket_context() {
    static std::vector<ZoneFacts> cache;  // per zone seen in this backend (pg_tz structs live forever)
    TimeBucketContext c;
    c.enabled = rewrite_guc;
    if (!c.enabled) return c;
    const pg_tz *tz = session_timezone;
    const ZoneFacts *found = nullptr;
    for (const ZoneFacts &f : cache)
        if (f.tz == tz) found = &f;
    if (!found) {
        if (cache.size() >= 16) cache.clear();
        cache.push_back(compute_facts(tz));
        found = &cache.back();
    }
    c.t0_minute = found->t0_minute;
    c.t0_hour = found->t0_hour;
    c.t0_second = found->t0_second;
    return c;
}

Node *rewrite_time_buckets(Node *node, const TimeBucketContext *ctx, bool row_filter) {
    if (!ctx->enabled || !node) return node;
    Ctx c{ctx, row_filter};
    return mutate(node, &c);
}

void define_time_bucket_gucs() {
    DefineCustomBoolVariable("rollup.rewrite_time_buckets",
                             "Statements sent to shards compute date_trunc with cheaper, equal expressions.",
                             "date_trunc(unit, x) becomes date_bin arithmetic where the session's time zone allows "
                             "it, and date_trunc(unit, x) compared with a constant becomes a comparison of x.",
                             &rewrite_guc, true, PGC_USERSET, 0, NULL, NULL, NULL);
}

}  // namespace rollup::deparse
