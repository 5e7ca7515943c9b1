// Native incremental rollups: create_rollup, run_rollup, drop_rollup and the generated name()
// (docs/rollup-engine.md; the arithmetic is core/rollup_plan.hpp).
//
// Design note. A run takes the rollup's frontier lock exclusively after waiting for the source's
// writers in flight, plans with core::plan_step (complete buckets since the frontier, the bucket in
// progress held back, plus recorded invalidations), and per co-located shard pair, in parallel,
// deletes the target's cells that still have raw rows in the planned ranges and inserts the rollup
// query over those ranges; the frontier moves and the consumed invalidations go in the same
// distributed transaction, so a run is idempotent and a failed one leaves nothing behind.
// Every statement is printed from a tree (the user's query analyzed, the range condition added as
// operator nodes, deparsed under the node settings) and instantiated per shard by the deparser.
// Must never: run user text in a privileged block, or materialize the bucket in progress.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/rollup_plan.hpp"

#include "connection/connection_pool.hpp"
#include "deparser/deparse.hpp"
#include "executor/remote_exec.hpp"
#include "metadata/metadata_cache.hpp"
#include "pg/as_superuser.hpp"
#include "pg/pinned_settings.hpp"
#include "pg/spi.hpp"
#include "planner/select_internal.hpp"
#include "rollup/invalidations.hpp"
#include "rollup/rollup_internal.hpp"
#include "transaction/remote_transaction.hpp"

namespace rollup::engine {

[[noreturn]] void fail(int code, const std::string &msg, const std::string &detail, const std::string &hint) {
    throw PgError(code, msg, detail, hint);
}

std::string rel_name(Oid relid) {
    return pg::call([&] { return std::string(get_rel_name(relid) ? get_rel_name(relid) : "?"); });
}

std::string qualified(Oid relid) {
    return pg::call([&] {
        char *name = get_rel_name(relid);
        char *nsp = name ? get_namespace_name(get_rel_namespace(relid)) : nullptr;
        if (!name || !nsp)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", relid)));
        return std::string(quote_qualified_identifier(nsp, name));
    });
}

std::string quote(const std::string &s) { return pg::call([&] { return std::string(quote_identifier(s.c_str())); }); }

Query *analyze(const std::string &sql) {
    const char *text = sql.c_str();
    return pg::call([&]() -> Query * {
        List *raw = pg_parse_query(text);
        if (list_length(raw) != 1)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("the rollup query must be one SELECT")));
        List *qs = pg_analyze_and_rewrite_fixedparams(linitial_node(RawStmt, raw), text, NULL, 0, NULL);
        if (list_length(qs) != 1) ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("the rollup query must be one SELECT")));
        return linitial_node(Query, qs);
    });
}

// Whether e is a Var of the single source relation (range-table index 1); its attno.
AttrNumber source_column(Node *e) {
    while (e && IsA(e, RelabelType)) e = reinterpret_cast<Node *>(reinterpret_cast<RelabelType *>(e)->arg);
    if (!e || !IsA(e, Var)) return 0;
    Var *v = reinterpret_cast<Var *>(e);
    return v->varno == 1 && v->varlevelsup == 0 ? v->varattno : 0;
}

// Whether date_trunc(unit, t) equals date_bin(<unit>, t, '2000-01-01 00:00:00+00') in this session's
// time zone: its offset from UTC is a whole number of units (hours; for days, zero) now and half a
// year and a year from now (either side of a daylight saving change).
bool whole_unit_time_zone(const char *unit, int64_t unit_us) {
    return pg::call([&] {
        TimestampTz now = GetCurrentTransactionStartTimestamp();
        for (int k = 0; k < 3; k++) {
            TimestampTz t = now + static_cast<int64_t>(k) * 182 * USECS_PER_DAY;
            TimestampTz trunc = DatumGetTimestampTz(DirectFunctionCall2(
                timestamptz_trunc, PointerGetDatum(cstring_to_text(unit)), TimestampTzGetDatum(t)));
            if ((trunc % unit_us + unit_us) % unit_us != 0) return false;
        }
        return true;
    });
}

// date_bin(<width>, arg, '2000-01-01 00:00:00+00'): what date_trunc(unit, arg) is in a time zone of
// whole units, in a form whose value does not depend on the session.
Node *fixed_bin(Node *arg, int64_t width_us) {
    return pg::call([&] {
        Interval *hour = static_cast<Interval *>(palloc0(sizeof(Interval)));
        hour->time = width_us;
        Const *width = makeConst(INTERVALOID, -1, InvalidOid, sizeof(Interval), PointerGetDatum(hour), false, false);
        Const *origin = makeConst(TIMESTAMPTZOID, -1, InvalidOid, sizeof(TimestampTz), TimestampTzGetDatum(0), false,
                                  FLOAT8PASSBYVAL);
        return reinterpret_cast<Node *>(makeFuncExpr(F_DATE_BIN_INTERVAL_TIMESTAMPTZ_TIMESTAMPTZ, TIMESTAMPTZOID,
                                                     list_make3(width, arg, origin), InvalidOid, InvalidOid,
                                                     COERCE_EXPLICIT_CALL));
    });
}

// date_trunc('second' | 'minute' | 'hour', ts) or date_bin(<interval>, ts, <timestamptz>) of a timestamptz
// column: its bucketing, or false.
bool bucketing_of(Node *e, AttrNumber *attno, int64_t *stride, int64_t *origin) {
    if (!e || !IsA(e, FuncExpr)) return false;
    FuncExpr *f = reinterpret_cast<FuncExpr *>(e);
    if (f->funcid == F_DATE_TRUNC_TEXT_TIMESTAMPTZ && list_length(f->args) == 2) {
        Node *unit = static_cast<Node *>(linitial(f->args));
        AttrNumber a = source_column(static_cast<Node *>(lsecond(f->args)));
        if (!a || !IsA(unit, Const) || reinterpret_cast<Const *>(unit)->constisnull) return false;
        std::string u = pg::call([&] { return std::string(TextDatumGetCString(reinterpret_cast<Const *>(unit)->constvalue)); });
        if (u == "second") *stride = 1000000;
        else if (u == "minute") *stride = 60 * 1000000LL;
        else if (u == "hour" && whole_unit_time_zone("hour", USECS_PER_HOUR)) *stride = USECS_PER_HOUR;
        else if (u == "day" && whole_unit_time_zone("day", USECS_PER_DAY)) *stride = USECS_PER_DAY;
        else
            fail(sqlstate::feature_not_supported,
                 "date_trunc('" + u + "', ...) is not supported as the bucket of a rollup" +
                     (u == "hour" || u == "day" ? " in this time zone" : ""),
                 u == "hour"  ? "The session's time zone is not a whole number of hours from UTC, so its hours are not "
                                "the same for every session."
                 : u == "day" ? "Days are fixed buckets only in UTC: elsewhere they follow the session's time zone."
                              : "Its buckets do not all have the same width.",
                 u == "hour" || u == "day"
                     ? "Use date_bin('1 " + u + "', column, '2000-01-01 00:00:00+00') (or another origin) for buckets of a "
                       "fixed width."
                 : u == "week" ? "Use date_bin('7 days', column, '2000-01-03 00:00:00+00') (weeks from Monday, UTC)."
                               : "Roll up per day with date_bin('1 day', column, '2000-01-01 00:00:00+00') and group the days "
                                 "by " + u + " when you read them.");
        *attno = a;
        *origin = 0;
        return true;
    }
    if (f->funcid == F_DATE_BIN_INTERVAL_TIMESTAMPTZ_TIMESTAMPTZ && list_length(f->args) == 3) {
        Node *iv = static_cast<Node *>(linitial(f->args));
        AttrNumber a = source_column(static_cast<Node *>(lsecond(f->args)));
        Node *org = static_cast<Node *>(lthird(f->args));
        if (!a || !IsA(iv, Const) || !IsA(org, Const) || reinterpret_cast<Const *>(iv)->constisnull ||
            reinterpret_cast<Const *>(org)->constisnull)
            return false;
        Interval *i = DatumGetIntervalP(reinterpret_cast<Const *>(iv)->constvalue);
        if (i->month != 0) fail(sqlstate::invalid_parameter_value, "the bucket width of a rollup cannot have months");
        *stride = i->time + int64_t(i->day) * USECS_PER_DAY;
        if (*stride <= 0) fail(sqlstate::invalid_parameter_value, "the bucket width of a rollup must be positive");
        *origin = DatumGetTimestampTz(reinterpret_cast<Const *>(org)->constvalue);
        *attno = a;
        return true;
    }
    return false;
}

Shape analyze_shape(const std::string &sql) {
    Shape s;
    s.query = analyze(sql);
    Query *q = s.query;
    if (q->commandType != CMD_SELECT || q->utilityStmt)
        fail(sqlstate::invalid_parameter_value, "the rollup query must be a SELECT");
    int relations = 0;
    ListCell *lc;
    foreach (lc, q->rtable) {
        RangeTblEntry *rte = static_cast<RangeTblEntry *>(lfirst(lc));
        if (rte->rtekind == RTE_RELATION) relations++;
        else
            fail(sqlstate::feature_not_supported, "the rollup query must read one distributed table (no joins or subqueries)");
    }
    RangeTblEntry *src = list_length(q->rtable) >= 1 ? rt_fetch(1, q->rtable) : nullptr;
    if (relations != 1 || !src || src->rtekind != RTE_RELATION)
        fail(sqlstate::feature_not_supported, "the rollup query must read one distributed table (no joins or subqueries)");
    const metadata::DistTable *t = metadata::lookup(src->relid);
    if (!t)
        fail(sqlstate::invalid_parameter_value, "the source of a rollup must be a distributed table",
             "\"" + rel_name(src->relid) + "\" is not distributed.", "Run create_distributed_table on it first.");
    s.source = src->relid;
    if (q->groupingSets || q->hasWindowFuncs || q->hasTargetSRFs || q->limitCount || q->limitOffset ||
        q->sortClause || q->distinctClause || q->cteList || q->hasSubLinks || q->setOperations)
        fail(sqlstate::feature_not_supported,
             "the rollup query must be SELECT ... FROM <table> [WHERE ...] GROUP BY ... [HAVING ...]",
             "No grouping sets, window functions, ORDER BY, LIMIT, DISTINCT, WITH, subqueries or set operations.");
    if (q->groupClause == NIL)
        fail(sqlstate::invalid_parameter_value, "the rollup query must have a GROUP BY",
             "It groups by the distribution column and one time bucket.");
    int buckets = 0;
    bool has_key = false;
    foreach (lc, q->targetList) {
        TargetEntry *tle = lfirst_node(TargetEntry, lc);
        if (tle->resjunk) continue;
        if (!tle->resname) fail(sqlstate::invalid_parameter_value, "every output column of the rollup query needs a name");
        s.outputs.emplace_back(tle->resname, exprType(reinterpret_cast<Node *>(tle->expr)));
        if (tle->ressortgroupref == 0) continue;  // not a GROUP BY item
        Node *e = reinterpret_cast<Node *>(tle->expr);
        if (source_column(e) == t->dist_attnum && !has_key) {
            has_key = true;
            s.source_key = t->dist_column;
            s.target_key = tle->resname;
            continue;
        }
        AttrNumber a = 0;
        int64_t stride = 0, origin = 0;
        if (bucketing_of(e, &a, &stride, &origin)) {
            buckets++;
            if ((stride == USECS_PER_HOUR || stride == USECS_PER_DAY) && IsA(e, FuncExpr) &&
                reinterpret_cast<FuncExpr *>(e)->funcid == F_DATE_TRUNC_TEXT_TIMESTAMPTZ) {
                e = fixed_bin(static_cast<Node *>(lsecond(reinterpret_cast<FuncExpr *>(e)->args)), stride);
                tle->expr = reinterpret_cast<Expr *>(e);
            }
            s.time_attno = a;
            s.stride = stride;
            s.origin = origin;
            s.target_bucket = tle->resname;
            s.bucket_expr = e;
        }
    }
    if (!has_key)
        fail(sqlstate::invalid_parameter_value,
             "the rollup query must output and GROUP BY the distribution column \"" + t->dist_column + "\"");
    if (buckets != 1)
        fail(sqlstate::invalid_parameter_value,
             "the rollup query must output and GROUP BY exactly one time bucket, not " + std::to_string(buckets),
             "", "date_trunc('minute', column) or date_bin(width, column, origin) of a timestamptz column.");
    Oid ttype = pg::call([&] { return get_atttype(s.source, s.time_attno); });
    if (ttype != TIMESTAMPTZOID)
        fail(sqlstate::datatype_mismatch, "the bucketed column of a rollup must be timestamptz");
    s.time_column = pg::call([&] { return std::string(get_attname(s.source, s.time_attno, false)); });
    // rollup's own functions (the real-time view's) are not for rollup queries: a run sends the
    // query to the shards as it is.
    struct OwnFunctions {
        Oid nsp;
        static bool walk(Node *n, OwnFunctions *ctx) {
            if (!n) return false;
            if (IsA(n, FuncExpr) && get_func_namespace(reinterpret_cast<FuncExpr *>(n)->funcid) == ctx->nsp) return true;
            if (IsA(n, Query))
                return query_tree_walker(reinterpret_cast<Query *>(n), reinterpret_cast<bool (*)()>(walk), ctx, 0);
            return expression_tree_walker(n, reinterpret_cast<bool (*)()>(walk), ctx);
        }
    };
    const bool own = pg::call([&] {
        OwnFunctions ctx{get_namespace_oid("rollup", true)};
        return OidIsValid(ctx.nsp) && query_tree_walker(q, reinterpret_cast<bool (*)()>(OwnFunctions::walk), &ctx, 0);
    });
    if (own) fail(sqlstate::feature_not_supported, "the rollup query cannot call functions of schema rollup");
    // Everything is computed on the shards.
    List *exprs = NIL;
    foreach (lc, q->targetList) exprs = pg::call([&] { return lappend(exprs, lfirst_node(TargetEntry, lc)->expr); });
    if (!select::is_shippable_anywhere(reinterpret_cast<Node *>(exprs), true) ||
        !select::is_shippable_anywhere(q->havingQual, true) ||
        !select::is_shippable_anywhere(q->jointree ? q->jointree->quals : nullptr, false))
        fail(sqlstate::feature_not_supported, "the rollup query must be computable on the shards",
             "It may use built-in, non-volatile functions, operators and aggregates only.");
    return s;
}

void ensure_owner(Oid relid) {
    const Oid me = GetUserId();
    if (!pg::call([&] { return pg_class_ownercheck(relid, me); }))
        fail(sqlstate::insufficient_privilege, "must be owner of table " + rel_name(relid),
             "Only the owner of a rollup's source and target (or a superuser) may create, run or drop it.");
}

std::optional<int64_t> opt_int(const pg::Text &t) {
    if (!t) return std::nullopt;
    return std::stoll(*t);
}

const char *kSelectRollup =
    "SELECT rollup_id, name, owner, source::oid, target::oid, query, source_key, time_column, target_key, "
    "target_bucket, stride_us, origin_us, "
    "CASE WHEN frontier IS NULL THEN NULL "
    "ELSE ((extract(epoch FROM frontier) * 1000000)::bigint - 946684800000000) END, source_rollup "
    "FROM rollup.rollup ";

Rollup rollup_from(const pg::Row &r) {
    Rollup x;
    x.id = std::stoll(*r[0]);
    x.name = *r[1];
    x.owner = static_cast<Oid>(std::stoul(*r[2]));
    x.source = static_cast<Oid>(std::stoul(*r[3]));
    x.target = static_cast<Oid>(std::stoul(*r[4]));
    x.query = *r[5];
    x.source_key = *r[6];
    x.time_column = *r[7];
    x.target_key = *r[8];
    x.target_bucket = *r[9];
    x.stride = std::stoll(*r[10]);
    x.origin = std::stoll(*r[11]);
    x.frontier = opt_int(r[12]);
    x.source_rollup = opt_int(r[13]);
    return x;
}

Rollup load(const std::string &where, const std::vector<pg::Param> &params, const std::string &what) {
    pg::SpiSession spi;
    std::vector<pg::Row> rows;
    {
        pg::AsSuperuser catalog_reader;
        rows = spi.query(std::string(kSelectRollup) + where, params, false);
    }
    if (rows.empty()) fail(sqlstate::undefined_object, "rollup " + what + " does not exist", "", "See SELECT name FROM rollup.rollups.");
    return rollup_from(rows[0]);
}

Oid rollup_catalog_oid() { return metadata::metadata_table_oid("rollup"); }

std::vector<Rollup> upper_rollups(int64_t id) {
    pg::SpiSession spi;
    std::vector<pg::Row> rows;
    {
        pg::AsSuperuser catalog_reader;
        rows = spi.query(std::string(kSelectRollup) + "WHERE source_rollup = $1 ORDER BY rollup_id", {pg::int_param(id)},
                         false);
    }
    std::vector<Rollup> out;
    for (auto &r : rows) out.push_back(rollup_from(r));
    return out;
}

void wait_for_commit_phase(int64_t id) {
    const Oid catalog = rollup_catalog_oid();
    pg::call([&] {
        LockDatabaseObject(catalog, static_cast<Oid>(id), kCommitLock, ShareLock);
        UnlockDatabaseObject(catalog, static_cast<Oid>(id), kCommitLock, ShareLock);
    });
}

std::string timestamptz_literal(int64_t us) {
    conn::CanonicalOutputStyle style;
    return pg::call([&] {
        char *s = DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(us)));
        return std::string(quote_literal_cstr(s)) + "::pg_catalog.timestamptz";
    });
}

// `(col >= lo AND col < hi) OR ...` for a list of bucket ranges (quoted column), or "false".
std::string range_condition(const core::Bucketing &b, const core::RangeList &ranges, const std::string &col) {
    std::string out;
    for (const core::TimeRange &r : ranges) {
        core::Bound bound = core::where_bounds(b, r);
        if (!bound.ok) continue;
        std::string c;
        if (bound.has_lower) c = col + " OPERATOR(pg_catalog.>=) " + timestamptz_literal(bound.lower);
        if (bound.has_upper)
            c += (c.empty() ? "" : " AND ") + col + " OPERATOR(pg_catalog.<) " + timestamptz_literal(bound.upper);
        if (c.empty()) c = "true";
        out += (out.empty() ? "(" : " OR (") + c + ")";
    }
    return out.empty() ? "false" : out;
}

Query *query_with(const Rollup &r, const std::string &cond) {
    // Analyzing "SELECT ... WHERE (cond)" around the original text would change the user's text;
    // instead the condition is parsed as a one-table query and its WHERE tree grafted on
    // (range-table index 1 is the source in both).
    Shape s = analyze_shape(r.query);
    Query *probe = analyze("SELECT 1 FROM " + qualified(r.source) + " WHERE " + cond);
    Node *extra = probe->jointree->quals;
    Query *q = s.query;
    pg::call([&] { q->jointree->quals = reinterpret_cast<Node *>(make_and_qual(q->jointree->quals, extra)); });
    return q;
}

std::string print_query(Query *q) {
    pg::PinnedSettings settings ROLLUP_NODE_SQL_SETTINGS;
    pg::CanonicalOutputStyle style;  // the ranges read back as the same instants
    return pg::call([&] { return std::string(pg_get_querydef(q, false)); });
}

// The rollup query limited to `cond` on the source, printed.
std::string query_text_with(const Rollup &r, const std::string &cond) { return print_query(query_with(r, cond)); }

// Where a first run starts: the source's earliest time (the domain's start when a row is at
// -infinity, whose bucket is -infinity itself), or INT64_MIN when the source has no row.
int64_t first_timestamp(const Rollup &r) {
    pg::SpiSession spi;
    const std::string col = quote(r.time_column);
    auto rows = spi.query("SELECT min(" + col + ") OPERATOR(pg_catalog.=) '-infinity'::pg_catalog.timestamptz, "
                              "(extract(epoch FROM min(" + col + ") FILTER (WHERE " + col +
                              " OPERATOR(pg_catalog.>) '-infinity'::pg_catalog.timestamptz)) * 1000000)::bigint - " +
                              std::to_string(kUnixTo2000Us) + " FROM " + qualified(r.source),
                          {}, true);
    if (rows.empty()) return INT64_MIN;
    if (rows[0][0] && *rows[0][0] == "t") return core::kMinTimestamp;
    return rows[0][1] ? std::stoll(*rows[0][1]) : INT64_MIN;
}

namespace {

// The access methods of the indexes of `relid` whose first key column is `attno`.
std::vector<Oid> index_methods_on(Oid relid, AttrNumber attno) {
    return pg::call([&] {
        std::vector<Oid> methods;
        Relation rel = table_open(relid, AccessShareLock);
        List *indexes = RelationGetIndexList(rel);
        ListCell *lc;
        foreach (lc, indexes) {
            HeapTuple tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
            if (!HeapTupleIsValid(tup)) continue;
            Form_pg_index idx = (Form_pg_index)GETSTRUCT(tup);
            if (idx->indnkeyatts > 0 && idx->indkey.values[0] == attno) {
                HeapTuple rt = SearchSysCache1(RELOID, ObjectIdGetDatum(idx->indexrelid));
                if (HeapTupleIsValid(rt)) {
                    methods.push_back(((Form_pg_class)GETSTRUCT(rt))->relam);
                    ReleaseSysCache(rt);
                }
            }
            ReleaseSysCache(tup);
        }
        table_close(rel, AccessShareLock);
        return methods;
    });
}

// Whether a run inserts its rows in bucket order: only for a BRIN index on the target's bucket
// column, which is useful only while the heap lies in time order. A btree (what create_rollup
// adds) finds the rows wherever they are, and sorting a large run costs a quarter of its time.
bool insert_in_bucket_order(const Rollup &r) {
    const AttrNumber attno = pg::call([&] { return get_attnum(r.target, r.target_bucket.c_str()); });
    for (Oid am : index_methods_on(r.target, attno))
        if (am == BRIN_AM_OID) return true;
    return false;
}

// What a run does, at DEBUG1 (client_min_messages = debug1, or log_min_messages): per shard the
// buckets it recomputes and each statement it sends, then a summary. Computed only when someone
// listens.
bool run_debug_wanted() { return pg::call([] { return message_level_is_interesting(DEBUG1); }); }

void run_debug(const std::string &line) {
    pg::call([&] { ereport(DEBUG1, (errmsg_internal("%s", line.c_str()))); });
}

std::string ranges_text(const core::RangeList &ranges) {
    std::string out;
    for (const core::TimeRange &r : ranges)
        out += (out.empty() ? "" : ", ") + std::string("[") +
               (r.lo == core::kNoBegin ? std::string("-infinity") : timestamptz_literal(r.lo)) + ", " +
               (r.hi == core::kNoEnd ? std::string("infinity") : timestamptz_literal(r.hi)) + ")";
    return out.empty() ? "none" : out;
}

// A local target (a table of the coordinator): the run's two statements run here, in the run's
// transaction, over the union of every shard's ranges (recomputing a cell that did not need it
// rewrites the same row); the source is read through the distributed planner. The cells below the
// old frontier that still have raw rows are read first (a DELETE of a local table cannot read a
// distributed one) and handed to the DELETE as two arrays.
int64_t write_local_target(const Rollup &cur, const core::Bucketing &bucketing, const core::RunStep &step,
                           uint64_t &buckets) {
    core::RangeList all;
    for (const core::RangeList &r : step.recompute) all.insert(all.end(), r.begin(), r.end());
    const core::RangeList ranges = core::coalesce(all);
    if (ranges.empty()) return 0;
    buckets = core::count_buckets(bucketing, ranges);
    const std::string tq = qualified(cur.target), sq = qualified(cur.source);
    const int64_t old_frontier = cur.frontier ? *cur.frontier : core::kNoBegin;
    const core::RangeList low = core::clip(ranges, core::kNoBegin, old_frontier);
    const core::RangeList high = core::clip(ranges, old_frontier, core::kNoEnd);
    Shape shape = analyze_shape(cur.query);
    List *dpcontext = pg::call([&] { return deparse_context_for(get_rel_name(cur.source), cur.source); });
    std::string bucket_sql;
    {
        pg::PinnedSettings settings ROLLUP_NODE_SQL_SETTINGS;
        bucket_sql = deparse::expression_for_node(shape.bucket_expr, dpcontext);
    }
    const Oid key_array = pg::call([&] {
        Oid key_type = get_atttype(cur.source, get_attnum(cur.source, cur.source_key.c_str()));
        Oid array_type = get_array_type(key_type);
        if (!OidIsValid(array_type))
            ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                            errmsg("the distribution column of a rollup with a local target needs an array type")));
        return array_type;
    });
    const std::string key_array_type = pg::call([&] { return std::string(format_type_be_qualified(key_array)); });
    std::vector<std::string> cols;
    for (auto &o : shape.outputs) cols.push_back(quote(o.first));
    std::string col_list;
    for (const std::string &c : cols) col_list += (col_list.empty() ? "" : ", ") + c;
    const std::string ins = "INSERT INTO " + tq + " (" + col_list + ") SELECT " + col_list + " FROM (" +
                            query_text_with(cur, range_condition(bucketing, ranges, quote(cur.time_column))) +
                            ") rollup_query" + (insert_in_bucket_order(cur) ? " ORDER BY " + quote(cur.target_bucket) : "");
    pg::PinnedSettings settings ROLLUP_NODE_SQL_SETTINGS;
    pg::AsTableOwner as_owner(cur.target);
    pg::SpiSession spi;
    // Two DELETEs, each a join the planner can hash (an IN below an OR is a SubPlan per row): the
    // buckets at and above the old frontier whole, then the cells below it that have raw rows.
    std::vector<std::pair<std::string, std::vector<pg::Param>>> deletes;
    if (!high.empty())
        deletes.push_back({"DELETE FROM " + tq + " WHERE " + range_condition(bucketing, high, quote(cur.target_bucket)), {}});
    if (!low.empty()) {
        // Printed in the canonical style: the arrays read back exactly.
        std::vector<pg::Row> cells;
        {
            pg::CanonicalOutputStyle style;
            cells = spi.query("SELECT pg_catalog.array_agg(k), pg_catalog.array_agg(b) FROM (SELECT " +
                                   quote(cur.source_key) + " AS k, " + bucket_sql + " AS b FROM " + sq + " WHERE " +
                                   range_condition(bucketing, low, quote(cur.time_column)) + " GROUP BY 1, 2) cells",
                               {}, false);
        }
        if (!cells.empty() && cells[0][0]) {
            deletes.push_back(
                {"DELETE FROM " + tq + " rollup_target USING ROWS FROM (pg_catalog.unnest($1::" + key_array_type +
                     "), pg_catalog.unnest($2::pg_catalog.timestamptz[])) AS rollup_cells (k, b) WHERE (" +
                     range_condition(bucketing, low, "rollup_target." + quote(cur.target_bucket)) +
                     ") AND rollup_target." + quote(cur.target_key) + " OPERATOR(pg_catalog.=) rollup_cells.k AND rollup_target." +
                     quote(cur.target_bucket) + " OPERATOR(pg_catalog.=) rollup_cells.b",
                 {{key_array, cells[0][0]}, {TIMESTAMPTZARRAYOID, cells[0][1]}}});
        }
    }
    if (run_debug_wanted()) {
        run_debug("rollup " + cur.name + ": local target: " + std::to_string(buckets) + " bucket(s) in " +
                  ranges_text(ranges));
        for (auto &d : deletes) run_debug("rollup " + cur.name + ": statement: " + d.first);
        run_debug("rollup " + cur.name + ": statement: " + ins);
    }
    for (auto &d : deletes) spi.execute(d.first, d.second, false);
    return static_cast<int64_t>(spi.execute(ins, {}, false));
}

int64_t run(const Rollup &r) {
    if (!pg::call([&] { return has_privs_of_role(GetUserId(), r.owner); }))
        fail(sqlstate::insufficient_privilege, "permission denied for rollup " + r.name);
    ensure_owner(r.source);
    ensure_owner(r.target);
    // Writers in flight on the source first (they hold its lock until they commit), then the frontier
    // lock: a writer waiting for the frontier lock at pre-commit still holds the source's lock.
    pg::call([&] {
        LOCKTAG tag;
        SET_LOCKTAG_RELATION(tag, MyDatabaseId, r.source);
        WaitForLockers(tag, ShareLock, false);
    });
    // Then the run writes the target like any writer: a rollup of this target waits for it to
    // finish (its own WaitForLockers), so it never reads half of this run. Taken after the wait, so
    // that this run never holds it while waiting for a writer that goes on to run that rollup.
    pg::call([&] { LockRelationOid(r.target, RowExclusiveLock); });
    const Oid catalog = rollup_catalog_oid();
    const int64_t id = r.id;
    pg::call([&] { LockDatabaseObject(catalog, static_cast<Oid>(id), kRunLock, ExclusiveLock); });
    Rollup cur = load("WHERE rollup_id = $1", {pg::int_param(r.id)}, r.name);
    const core::Bucketing bucketing(cur.stride, cur.origin);
    const metadata::DistTable &src = metadata::get(cur.source);

    core::RunRequest req;
    req.shard_count = src.shard_count;
    req.frontier = cur.frontier;
    req.now = GetCurrentTimestamp();
    // A rollup of a rollup consumes only what the one below has finalized: its buckets complete
    // below that rollup's frontier (read after the lower run's commit has finished on every node).
    if (cur.source_rollup) {
        wait_for_commit_phase(*cur.source_rollup);
        Rollup lower = load("WHERE rollup_id = $1", {pg::int_param(*cur.source_rollup)}, "below " + cur.name);
        if (!lower.frontier) return 0;  // nothing finalized below yet
        req.now = std::min(req.now, *lower.frontier);
    }
    {
        pg::SpiSession spi;
        std::vector<pg::Row> inv;
        {
            pg::AsSuperuser catalog_reader;
            inv = spi.query("SELECT shard_index, (extract(epoch FROM lo) * 1000000)::bigint - 946684800000000, "
                            "(extract(epoch FROM hi) * 1000000)::bigint - 946684800000000 "
                            "FROM rollup.rollup_invalidation WHERE rollup_id = $1",
                            {pg::int_param(cur.id)}, false);
        }
        for (auto &row : inv)
            req.invalidations.push_back({std::stoi(*row[0]), {std::stoll(*row[1]), std::stoll(*row[2])}});
    }
    if (!cur.frontier) {
        // Read as the target's owner, like every other read of the run: one transaction reaches
        // the nodes as one role.
        const int64_t first = [&] {
            pg::AsTableOwner as_owner(cur.target);
            return first_timestamp(cur);
        }();
        if (first == INT64_MIN) return 0;  // no row yet: the first run with rows starts there
        req.first_start = first;
    }
    const core::RunStep step = core::plan_step(bucketing, req);

    // Per shard pair: delete the cells that still have raw rows in the ranges, insert the query's
    // rows for the ranges; both statements in one round trip, all shards in parallel.
    const std::string tq = qualified(cur.target), sq = qualified(cur.source);
    std::vector<exec::Task> tasks;
    const bool spread = !IsTransactionBlock();
    uint64_t buckets = 0;
    const metadata::DistTable *tgt_dist = metadata::lookup(cur.target);
    const bool local_target = tgt_dist == nullptr;
    // A distributed target is written shard pair by shard pair: it must still be co-located with
    // the source and split by the rollup's key (create_rollup checked; a later change may not).
    if (tgt_dist && (tgt_dist->colocationid != src.colocationid || tgt_dist->dist_column != cur.target_key))
        fail(sqlstate::object_not_in_prerequisite_state,
             "the target of rollup " + cur.name + " is no longer co-located with its source, distributed by \"" +
                 cur.target_key + "\"");
    const bool in_bucket_order = insert_in_bucket_order(cur);
    const bool debug = run_debug_wanted();
    for (int i = 0; i < src.shard_count && !local_target; i++) {
        const core::RangeList &ranges = step.recompute[i];
        if (ranges.empty()) continue;
        buckets += core::count_buckets(bucketing, ranges);
        const std::string src_cond = range_condition(bucketing, ranges, quote(cur.time_column));
        // Below the old frontier only the cells that still have raw rows are replaced (a cell whose
        // raw rows are gone keeps its rolled-up rows); at and above it nothing was materialized by
        // this rollup, so the target's rows there are replaced whole, without reading the source twice.
        const int64_t old_frontier = cur.frontier ? *cur.frontier : core::kNoBegin;
        const core::RangeList low = core::clip(ranges, core::kNoBegin, old_frontier);
        const core::RangeList high = core::clip(ranges, old_frontier, core::kNoEnd);
        const std::string tgt_low = range_condition(bucketing, low, quote(cur.target_bucket));
        const std::string tgt_high = range_condition(bucketing, high, quote(cur.target_bucket));
        const std::string src_low = range_condition(bucketing, low, quote(cur.time_column));
        Shape shape = analyze_shape(cur.query);
        List *dpcontext = pg::call([&] { return deparse_context_for(get_rel_name(cur.source), cur.source); });
        const std::string bucket_sql = deparse::expression_for_node(shape.bucket_expr, dpcontext);
        // Two DELETEs, each a join the planner can hash (an IN below an OR would be a SubPlan run for
        // every target row): the buckets at and above the old frontier whole, then the cells below
        // it that still have raw rows.
        std::vector<std::string> deletes;
        if (!high.empty()) deletes.push_back("DELETE FROM " + tq + " WHERE " + tgt_high);
        if (!low.empty())
            deletes.push_back("DELETE FROM " + tq + " rollup_target USING (SELECT " + quote(cur.source_key) + " AS k, " +
                              bucket_sql + " AS b FROM " + sq + " WHERE " + src_low +
                              " GROUP BY 1, 2) rollup_cells WHERE (" +
                              range_condition(bucketing, low, "rollup_target." + quote(cur.target_bucket)) +
                              ") AND rollup_target." + quote(cur.target_key) +
                              " OPERATOR(pg_catalog.=) rollup_cells.k AND rollup_target." + quote(cur.target_bucket) +
                              " OPERATOR(pg_catalog.=) rollup_cells.b");
        // The columns in the target's own order, selected by name from the query: the rewriter puts
        // an INSERT's target list in column order and the deparser prints the SELECT as it is, so
        // both must already agree.
        std::vector<std::pair<AttrNumber, std::string>> by_attno;
        for (auto &o : shape.outputs) {
            AttrNumber a = pg::call([&] { return get_attnum(cur.target, o.first.c_str()); });
            by_attno.emplace_back(a, quote(o.first));
        }
        std::sort(by_attno.begin(), by_attno.end());
        std::string cols;
        for (auto &c : by_attno) cols += (cols.empty() ? "" : ", ") + c.second;
        // In bucket order when the target has a BRIN index on its bucket column: the rows then lie
        // in time order on disk (later runs append later buckets), which keeps that index useful.
        const std::string ins = "INSERT INTO " + tq + " (" + cols + ") SELECT " + cols + " FROM (" +
                                query_text_with(cur, src_cond) + ") rollup_query" +
                                (in_bucket_order ? " ORDER BY " + quote(cur.target_bucket) : "");
        // A shard pair's DELETE and INSERT go together (one connection, one round trip: the insert
        // must not wait for the delete's row locks held by another connection). When the run is the
        // whole transaction, the pairs spread over every connection of a node, in parallel.
        exec::Task t;
        t.nodeid = src.shards[i].nodeid;
        {
            // Every name in these statements is qualified: nothing may resolve on the caller's
            // search_path (an operator of the row comparison, say).
            pg::PinnedSettings settings ROLLUP_NODE_SQL_SETTINGS;
            for (const std::string &d : deletes) t.statements.push_back(deparse::query_for_shard(analyze(d), i));
            t.statements.push_back(deparse::query_for_shard(analyze(ins), i));
        }
        t.write = true;
        if (debug) {
            const metadata::NodeInfo &n = metadata::node(t.nodeid);
            run_debug("rollup " + cur.name + ": shard " + std::to_string(i) + " (" + src.shards[i].name + " -> " +
                      metadata::get(cur.target).shards[i].name + " on " + n.host + ":" + std::to_string(n.port) + "): " +
                      std::to_string(core::count_buckets(bucketing, ranges)) + " bucket(s) in " + ranges_text(ranges));
            for (const std::string &stmt : t.statements)
                run_debug("rollup " + cur.name + ": shard " + std::to_string(i) + " statement: " + deparse::one_line(stmt));
        }
        // The coordinator's own shards spread over loopback connections only when it can prepare
        // transactions (several connections commit with two-phase commit); otherwise they run here.
        t.spread = spread && (!metadata::node(t.nodeid).is_coordinator || max_prepared_xacts > 0);
        t.local = !t.spread && exec::local_write_ok(t.nodeid);
        tasks.push_back(std::move(t));
    }
    xact::ForceRemoteTransactions force;
    int64_t rows = 0;  // the INSERTs' counts: each task's last statement
    if (local_target) {
        rows = write_local_target(cur, bucketing, step, buckets);
    } else {
        // The shard statements run as the target's owner in a restricted operation.
        pg::AsTableOwner as_owner(cur.target);
        exec::execute(tasks);
    }
    for (const exec::Task &t : tasks)
        if (t.statement_rows.size() == t.statements.size() && !t.statement_rows.empty()) rows += t.statement_rows.back();

    // Rollups of this target: the buckets rewritten below their frontiers are stale there. Each one's
    // run lock in share mode (its run holds it exclusively while it reads this target and moves its
    // frontier) until this transaction ends, then its frontier, then the record.
    std::vector<Rollup> uppers = upper_rollups(cur.id);
    pg::SpiSession spi;
    for (const Rollup &up : uppers) {
        pg::call([&] { LockDatabaseObject(catalog, static_cast<Oid>(up.id), kRunLock, ShareLock); });
        Rollup u = load("WHERE rollup_id = $1", {pg::int_param(up.id)}, up.name);
        if (!u.frontier) continue;  // nothing materialized there yet
        const core::Bucketing ub(u.stride, u.origin);
        for (int i = 0; i < static_cast<int>(step.recompute.size()); i++) {
            core::RangeList stale;
            for (const core::TimeRange &rg : core::clip(step.recompute[i], core::kNoBegin, *u.frontier))
                stale.push_back(core::to_buckets(ub, rg));
            for (const core::TimeRange &rg : core::coalesce(stale)) {
                pg::AsSuperuser catalog_writer;
                insert_invalidation(spi, u.id, i, rg);
            }
        }
    }

    // Progress, in the same transaction; then the commit lock, held through the distributed commit.
    pg::AsSuperuser catalog_writer;
    spi.execute("DELETE FROM rollup.rollup_invalidation WHERE rollup_id = $1", {pg::int_param(cur.id)}, false);
    for (int i = 0; i < static_cast<int>(step.remaining.size()); i++)
        for (const core::TimeRange &rg : step.remaining[i]) insert_invalidation(spi, cur.id, i, rg);
    spi.execute("UPDATE rollup.rollup SET frontier = '2000-01-01 00:00:00+00'::timestamptz + $2 * interval '1 microsecond', "
                "last_run_start = now(), last_run_end = clock_timestamp(), last_rows = $3, last_buckets = $4, "
                "total_rows = total_rows + $3, last_error = NULL WHERE rollup_id = $1",
                {pg::int_param(cur.id), pg::int_param(step.to_frontier), pg::int_param(rows),
                 pg::int_param(static_cast<int64_t>(buckets))},
                false);
    if (debug) {
        size_t left = 0, shards = 0;
        for (const core::RangeList &r : step.remaining) left += r.size();
        for (const core::RangeList &r : step.recompute) shards += r.empty() ? 0 : 1;
        run_debug("rollup " + cur.name + ": " + std::to_string(buckets) + " bucket(s) recomputed on " +
                  std::to_string(shards) + " shard(s), " + std::to_string(rows) + " row(s) written; frontier " +
                  (cur.frontier ? timestamptz_literal(*cur.frontier) : std::string("none")) + " -> " +
                  timestamptz_literal(step.to_frontier) + "; " + std::to_string(left) +
                  " invalidated range(s) left for later runs");
    }
    note_run(id);
    return rows;
}

}  // namespace

}  // namespace rollup::engine

using namespace rollup;
using rollup::engine::fail;

namespace rollup::engine {
namespace {
// An index on (attno) of a distributed table unless one starts with that column: BRIN for a source
// (raw events: large, append-mostly in time order; tiny and enough), of 16 pages per range (the
// default 128 is more than a whole shard of a small table, and a real-time view's tail, the last
// minute or so of every shard, is a page or two) and summarized as ranges fill; btree for a target (a real-time
// view reads a few buckets of every target shard at each statement, and a shard planner prefers a
// sequential scan to BRIN on tables of a target's size).
void ensure_time_index(pg::SpiSession &spi, Oid relid, AttrNumber attno, bool brin) {
    if (attno == InvalidAttrNumber) return;
    const bool indexed = !index_methods_on(relid, attno).empty();
    if (indexed) return;
    const std::string column = pg::call([&] { return std::string(get_attname(relid, attno, false)); });
    const std::string method = brin ? "brin" : "btree";
    // A free name, as CREATE INDEX without one would choose (a relation of that name made first by
    // someone else does not block create_rollup).
    const char *relname_c = nullptr;
    const std::string rel = rel_name(relid);
    const char *rel_c = rel.c_str(), *col_c = column.c_str(), *method_c = method.c_str();
    relname_c = pg::call([&] { return ChooseRelationName(rel_c, col_c, method_c, get_rel_namespace(relid), false); });
    const std::string index_name(relname_c);
    spi.execute("CREATE INDEX " + quote(index_name) + " ON " + qualified(relid) + " USING " + method + " (" +
                    quote(column) + ")" + (brin ? " WITH (pages_per_range = 16, autosummarize = on)" : ""),
                {}, false);
}

}  // namespace
}  // namespace rollup::engine

ROLLUP_FUNCTION(rollup_create_rollup) {
    const std::string name = pg::call([&] { return std::string(text_to_cstring(PG_GETARG_TEXT_PP(0))); });
    const Oid target = PG_GETARG_OID(1);
    const std::string query = pg::call([&] { return std::string(text_to_cstring(PG_GETARG_TEXT_PP(2))); });
    if (name.empty() || name.size() >= NAMEDATALEN)
        fail(sqlstate::invalid_parameter_value, "a rollup name must have 1 to " + std::to_string(NAMEDATALEN - 1) + " bytes");
    engine::Shape s = engine::analyze_shape(query);
    engine::ensure_owner(s.source);
    engine::ensure_owner(target);
    // The target: distributed, co-located, its distribution column fed by the source's; columns that
    // match the query's outputs by name and type.
    const metadata::DistTable *tt = metadata::lookup(target);
    const metadata::DistTable &st = metadata::get(s.source);
    if (!tt) {
        // A local target: an ordinary (or partitioned) table of the coordinator, written by runs
        // through this backend.
        const char kind = pg::call([&] { return get_rel_relkind(target); });
        if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
            fail(sqlstate::wrong_object_type, "the target of a rollup must be a table: \"" + engine::rel_name(target) + "\" is not");
        // A temporary table ends with its session, and nothing then tells the rollup.
        if (pg::call([&] { return get_rel_persistence(target); }) == RELPERSISTENCE_TEMP)
            fail(sqlstate::feature_not_supported, "a temporary table cannot be the target of a rollup",
                 "\"" + engine::rel_name(target) + "\" would vanish with this session.");
    } else if (tt->colocationid != st.colocationid)
        fail(sqlstate::invalid_parameter_value, "the target of a rollup must be co-located with its source",
             "", "create_distributed_table(target, column, colocate_with => 'source').");
    if (tt && tt->dist_column != s.target_key)
        fail(sqlstate::invalid_parameter_value,
             "the target's distribution column \"" + tt->dist_column + "\" must be fed by the source's \"" + s.source_key + "\"");
    for (auto &o : s.outputs) {
        AttrNumber a = pg::call([&] { return get_attnum(target, o.first.c_str()); });
        if (a == InvalidAttrNumber)
            fail(sqlstate::undefined_column, "target \"" + engine::rel_name(target) + "\" has no column \"" + o.first + "\"");
        Oid ty = pg::call([&] { return get_atttype(target, a); });
        // As INSERT would store it: the same type or one it converts to by an assignment cast
        // (count(*) is bigint, the tutorial's target columns are int).
        Oid from = o.second;
        const bool assignable =
            ty == from || pg::call([&] { return can_coerce_type(1, &from, &ty, COERCION_ASSIGNMENT); });
        if (!assignable) {
            std::string want = pg::call([&] { return std::string(format_type_be(o.second)); });
            std::string have = pg::call([&] { return std::string(format_type_be(ty)); });
            fail(sqlstate::datatype_mismatch,
                 "column \"" + o.first + "\" of target \"" + engine::rel_name(target) + "\" has type " + have +
                     ", but the rollup query computes " + want);
        }
        // A run's INSERT converts on the shards, where DateStyle, IntervalStyle, extra_float_digits
        // and bytea_output stay canonical: an assignment cast through text of such a value (a
        // timestamp or a float into a text column, text into a date column) would store what
        // PostgreSQL would not under the session's settings.
        if (ty != from) {
            const int32 typmod = pg::call([&] {
                Oid t, c;
                int32 m;
                get_atttypetypmodcoll(target, a, &t, &m, &c);
                return m;
            });
            const bool via_settings = pg::call([&] {
                Node *probe = coerce_to_target_type(nullptr, reinterpret_cast<Node *>(makeNullConst(from, -1, InvalidOid)),
                                                    from, ty, typmod, COERCION_ASSIGNMENT, COERCE_IMPLICIT_CAST, -1);
                return probe != nullptr && select::depends_on_output_settings(probe);
            });
            if (via_settings) {
                std::string want = pg::call([&] { return std::string(format_type_be(from)); });
                std::string have = pg::call([&] { return std::string(format_type_be(ty)); });
                fail(sqlstate::feature_not_supported,
                     "column \"" + o.first + "\" of target \"" + engine::rel_name(target) + "\" has type " + have +
                         ": storing the rollup query's " + want + " there converts it through text, which depends on "
                         "session settings",
                     "", "Give the column the query's type, or convert in the query (to_char, to_date with a format).");
            }
        }
    }
    // Runs compare the target's key and bucket with the source's (the cells to replace): the
    // bucket is stored as timestamptz (a timestamp or a date would move with the time zone of
    // whoever runs it), and the keys compare with pg_catalog's =.
    {
        const Oid bucket_type = pg::call([&] { return get_atttype(target, get_attnum(target, s.target_bucket.c_str())); });
        if (bucket_type != TIMESTAMPTZOID)
            fail(sqlstate::datatype_mismatch,
                 "column \"" + s.target_bucket + "\" of target \"" + engine::rel_name(target) + "\" has type " +
                     pg::call([&] { return std::string(format_type_be(bucket_type)); }) +
                     ", but a rollup's bucket column must be timestamp with time zone");
        const Oid tkey = pg::call([&] { return get_atttype(target, get_attnum(target, s.target_key.c_str())); });
        const Oid skey = pg::call([&] { return get_atttype(s.source, get_attnum(s.source, s.source_key.c_str())); });
        const bool comparable = pg::call([&] {
            Operator op = oper(NULL, list_make2(makeString(pstrdup("pg_catalog")), makeString(pstrdup("="))), tkey, skey, true, -1);
            if (!op) return false;
            ReleaseSysCache(op);
            return true;
        });
        if (!comparable)
            fail(sqlstate::datatype_mismatch,
                 "column \"" + s.target_key + "\" of target \"" + engine::rel_name(target) + "\" has type " +
                     pg::call([&] { return std::string(format_type_be(tkey)); }) + ", which does not compare with " +
                     pg::call([&] { return std::string(format_type_be(skey)); }) + " (the source's \"" + s.source_key + "\")",
                 "", "Give the target's key column the source's type.");
    }
    // A rollup of a rollup: its source is another rollup's target. Its runs consume only what that
    // rollup has finalized; no chain may loop back onto itself.
    std::optional<int64_t> source_rollup;
    {
        pg::SpiSession spi;
        pg::AsSuperuser catalog_reader;
        auto rows = spi.query("SELECT rollup_id FROM rollup.rollup WHERE target = $1 ORDER BY rollup_id LIMIT 1",
                              {pg::oid_param(s.source)}, false);
        if (!rows.empty()) source_rollup = std::stoll(*rows[0][0]);
        std::optional<int64_t> at = source_rollup;
        for (int depth = 0; at && depth < 64; depth++) {
            auto up = spi.query("SELECT source::oid, source_rollup FROM rollup.rollup WHERE rollup_id = $1",
                                {pg::int_param(*at)}, false);
            if (up.empty()) break;
            if (static_cast<Oid>(std::stoul(*up[0][0])) == target || s.source == target)
                fail(sqlstate::invalid_parameter_value, "a rollup cannot feed its own source",
                     "\"" + engine::rel_name(target) + "\" is read by the rollups below this one.");
            at = engine::opt_int(up[0][1]);
        }
    }
    if (s.source == target) fail(sqlstate::invalid_parameter_value, "a rollup cannot feed its own source");
    {
        // One rollup per target (two would replace each other's cells), and levels are made from
        // the bottom up: a rollup that already reads this target was made as a rollup of a table,
        // not of a rollup, so it would never wait for this one nor hear of its rewrites.
        pg::SpiSession spi;
        pg::AsSuperuser catalog_reader;
        auto writer = spi.query("SELECT name FROM rollup.rollup WHERE target = $1 LIMIT 1", {pg::oid_param(target)}, false);
        if (!writer.empty())
            fail(sqlstate::duplicate_object, "rollup " + *writer[0][0] + " already writes \"" + engine::rel_name(target) + "\"",
                 "Two rollups into one target would replace each other's rows.", "Give this rollup its own target.");
        auto reader = spi.query("SELECT name FROM rollup.rollup WHERE source = $1 LIMIT 1", {pg::oid_param(target)}, false);
        if (!reader.empty())
            fail(sqlstate::object_not_in_prerequisite_state,
                 "rollup " + *reader[0][0] + " already reads \"" + engine::rel_name(target) + "\"",
                 "A rollup of a rollup must be created after the rollup it reads, so that its runs wait for it.",
                 "Drop rollup " + *reader[0][0] + ", create this one, then create " + *reader[0][0] + " again.");
    }
    if (source_rollup) {
        // avg() over rows that are already aggregates weighs every row of the lower level equally,
        // not every raw row: exact only with equal counts. Say so, and what to keep instead.
        struct Finder {
            static bool walk(Node *n, bool *found) {
                if (!n) return false;
                if (IsA(n, Aggref)) {
                    char *fname = get_func_name(reinterpret_cast<Aggref *>(n)->aggfnoid);
                    if (fname && strcmp(fname, "avg") == 0) *found = true;
                }
                return expression_tree_walker(n, reinterpret_cast<bool (*)()>(walk), found);
            }
        };
        bool averages = false;
        pg::call([&] {
            Finder::walk(reinterpret_cast<Node *>(s.query->targetList), &averages);
            Finder::walk(s.query->havingQual, &averages);
        });
        if (averages) {
            const std::string src = engine::rel_name(s.source);
            pg::call([&] {
                ereport(WARNING,
                        (errmsg("rollup %s averages averages: avg() over \"%s\", whose rows are already aggregates",
                                name.c_str(), src.c_str()),
                         errdetail("The average of per-bucket averages weighs every bucket equally, not every raw row, "
                                   "so it is not the average of the raw rows."),
                         errhint("Keep a sum and a count in the lower rollup (e.g. response_time_sum and "
                                 "request_count) and compute sum(response_time_sum) / sum(request_count) from them.")));
            });
        }
    }
    // name(): in the schema where CREATE FUNCTION would put it; an existing one is never replaced.
    Oid nsp = pg::call([&] {
        char *n = pstrdup(name.c_str());
        List *names = list_make1(makeString(n));
        char *fname;
        return QualifiedNameGetCreationNamespace(names, &fname);
    });
    Oid existing = pg::call([&] {
        List *names = list_make2(makeString(get_namespace_name(nsp)), makeString(pstrdup(name.c_str())));
        return LookupFuncName(names, 0, NULL, true);
    });
    if (OidIsValid(existing))
        fail(make_sqlstate("42723"), "function " + name + "() already exists",
             "rollup.create_rollup creates " + name + "() to run the rollup and never replaces a function.",
             "Drop it first (e.g. the tutorial's PL/pgSQL rollup_http_request()), or choose another name.");
    const std::string nsp_name = pg::call([&] { return std::string(get_namespace_name(nsp)); });
    // Stored as printed from the analyzed tree with every name qualified: a run re-analyzes it, and
    // must find the same objects whatever the search_path of whoever runs it.
    std::string stored_query;
    {
        pg::PinnedSettings settings ROLLUP_NODE_SQL_SETTINGS;
        Query *q = s.query;
        pg::CanonicalOutputStyle style;  // read back at every run, under whatever settings
        stored_query = pg::call([&] { return std::string(pg_get_querydef(q, false)); });
    }
    pg::SpiSession spi;
    // A run reads the source by time ranges, and a real-time view (and a dashboard) reads the target
    // by bucket ranges: without an index on those columns every shard would be scanned whole each
    // time. One is made (and propagated to the shards) only when no index starts with that column.
    engine::ensure_time_index(spi, s.source, s.time_attno, true);
    engine::ensure_time_index(spi, target, pg::call([&] { return get_attnum(target, s.target_bucket.c_str()); }), false);
    // name() is LANGUAGE C, which only a superuser may create: the caller must be allowed to create
    // a function in that schema; the function is created in a privileged scope (the name quoted, the
    // rest fixed text) and given to the caller.
    const Oid me = GetUserId();
    if (pg::call([&] { return pg_namespace_aclcheck(nsp, me, ACL_CREATE); }) != ACLCHECK_OK)
        fail(sqlstate::insufficient_privilege, "permission denied for schema " + nsp_name,
             "rollup.create_rollup creates " + name + "() there.");
    {
        const std::string me_name = pg::call([&] { return std::string(GetUserNameFromId(me, false)); });
        pg::AsSuperuser function_maker;
        const std::string fn_name = engine::quote(nsp_name) + "." + engine::quote(name) + "()";
        spi.execute("CREATE FUNCTION " + fn_name +
                        " RETURNS bigint LANGUAGE C VOLATILE AS '$libdir/rollup', 'rollup_run_generated'",
                    {}, false);
        spi.execute("ALTER FUNCTION " + fn_name + " OWNER TO " + engine::quote(me_name), {}, false);
    }
    pg::call([] { CommandCounterIncrement(); });
    Oid fn = pg::call([&] {
        List *names = list_make2(makeString(pstrdup(nsp_name.c_str())), makeString(pstrdup(name.c_str())));
        return LookupFuncName(names, 0, NULL, false);
    });
    pg::AsSuperuser catalog_writer;
    spi.execute("INSERT INTO rollup.rollup (name, owner, source, target, query, source_key, time_column, target_key, "
                "target_bucket, stride_us, origin_us, fn, source_rollup) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                {pg::text_param(name), pg::oid_param(me), pg::oid_param(s.source), pg::oid_param(target),
                 pg::text_param(stored_query), pg::text_param(s.source_key), pg::text_param(s.time_column),
                 pg::text_param(s.target_key), pg::text_param(s.target_bucket), pg::int_param(s.stride),
                 pg::int_param(s.origin), pg::oid_param(fn),
                 source_rollup ? pg::int_param(*source_rollup) : pg::Param{INT8OID, std::nullopt}},
                false);
    engine::rollups_changed();
    PG_RETURN_VOID();
}

ROLLUP_FUNCTION(rollup_run_rollup) {
    const std::string name = pg::call([&] { return std::string(text_to_cstring(PG_GETARG_TEXT_PP(0))); });
    engine::Rollup r = engine::load("WHERE name = $1", {pg::text_param(name)}, "\"" + name + "\"");
    PG_RETURN_INT64(engine::run(r));
}

ROLLUP_FUNCTION(rollup_run_generated) {
    const Oid fn = fcinfo->flinfo->fn_oid;
    engine::Rollup r = engine::load("WHERE fn = $1", {pg::oid_param(fn)}, "of function " + std::to_string(fn));
    PG_RETURN_INT64(engine::run(r));
}

ROLLUP_FUNCTION(rollup_drop_rollup) {
    const std::string name = pg::call([&] { return std::string(text_to_cstring(PG_GETARG_TEXT_PP(0))); });
    engine::Rollup r = engine::load("WHERE name = $1", {pg::text_param(name)}, "\"" + name + "\"");
    if (!pg::call([&] { return has_privs_of_role(GetUserId(), r.owner); }))
        fail(sqlstate::insufficient_privilege, "permission denied for rollup " + r.name);
    pg::SpiSession spi;
    std::vector<pg::Row> fn;
    {
        pg::AsSuperuser catalog_writer;
        // What depends on the rollup: real-time views (a dropped view leaves a row behind, removed
        // here) and rollups of its target. Neither is dropped along: the user says which goes.
        spi.execute("DELETE FROM rollup.realtime_view v WHERE v.rollup_id = $1 AND NOT EXISTS "
                    "(SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) v.view_oid)",
                    {pg::int_param(r.id)}, false);
        auto views = spi.query("SELECT pg_catalog.string_agg(view_oid::pg_catalog.regclass::text, ', ') "
                               "FROM rollup.realtime_view WHERE rollup_id = $1 HAVING count(*) > 0",
                               {pg::int_param(r.id)}, false);
        if (!views.empty() && views[0][0])
            fail(sqlstate::dependent_objects_still_exist, "cannot drop rollup " + r.name + ": real-time views depend on it",
                 "view " + *views[0][0] + " reads the rollup's frontier.", "DROP VIEW it first.");
        auto uppers = spi.query("SELECT pg_catalog.string_agg(name, ', ') FROM rollup.rollup WHERE source_rollup = $1 "
                                "HAVING count(*) > 0",
                                {pg::int_param(r.id)}, false);
        if (!uppers.empty() && uppers[0][0])
            fail(sqlstate::dependent_objects_still_exist, "cannot drop rollup " + r.name + ": other rollups read its target",
                 "rollup " + *uppers[0][0] + " consumes what this rollup finalizes.", "Drop those rollups first.");
        fn = spi.query("DELETE FROM rollup.rollup WHERE rollup_id = $1 RETURNING fn::oid", {pg::int_param(r.id)}, false);
    }
    if (!fn.empty() && fn[0][0]) {
        const Oid f = static_cast<Oid>(std::stoul(*fn[0][0]));
        const std::string sig = pg::call([&] {
            return std::string(SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(f)) ? format_procedure_qualified(f) : "");
        });
        if (!sig.empty()) spi.execute("DROP FUNCTION " + sig, {}, false);
    }
    engine::rollups_changed();
    PG_RETURN_VOID();
}
