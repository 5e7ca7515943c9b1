// Real-time views: rollup.create_realtime_view and the functions its views read
// (docs/realtime-views.md; the range arithmetic is core::realtime_source_buckets).
//
// Design note. A real-time view is a plain view of four UNION ALL arms over the rollup's target and
// source, so PostgreSQL (and the distributed planner under it) pushes a user's filters into every
// arm: a `site_id = 7` routes each arm to one shard, a time filter bounds each scan.
//   1. target rows of buckets outside realtime_source_buckets() (materialized and not stale);
//   2. target rows of stale buckets (invalidated below the frontier) whose cell has no source row
//      left: a run keeps such rows, so the view does too;
//   3. the rollup query over source rows at or above the frontier (the tail);
//   4. the rollup query over source rows of the stale buckets.
// The functions are STABLE and take constants, so each statement folds them into constants once, on
// the coordinator, before any shard statement is printed (select_shippable.cpp lets them through
// for that reason only); the constants go to the shards, where the time indexes bound each scan.
// They read the catalog in the statement's snapshot (never newer than the data it reads) after
// waiting for a run that is finishing its distributed commit, so no bucket is missing or doubled.
// A rollup of a rollup reads the real-time form of the rollup below instead of its target, so its
// view is exact down to the raw rows.
// Must never: put user text into the view other than through the deparsed query tree and quoted
// identifiers, or create the view with raised privileges (the caller owns it).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/rollup_plan.hpp"

#include "metadata/metadata_cache.hpp"
#include "pg/as_superuser.hpp"
#include "pg/pinned_settings.hpp"
#include "pg/spi.hpp"
#include "rollup/invalidations.hpp"
#include "rollup/rollup_internal.hpp"

namespace rollup::engine {

namespace {

// Levels of rollups of rollups a real-time view reads through (each level's view text holds the one
// below three times: the cap keeps a view's text and plan small).
constexpr int kMaxLevels = 4;

// What a real-time view of one rollup reads at this moment.
struct RealtimeState {
    std::optional<int64_t> frontier;
    core::RangeList from_source;  // buckets computed from the source
    core::RangeList stale;        // the part of from_source below the frontier
};

RealtimeState read_state(int64_t id, int depth);

// The state of rollup `id` as the active snapshot sees it, read once per snapshot: a dashboard
// statement calls the view's functions seven times, all folded before execution, and each read
// is two catalog queries and a lock wait. The same snapshot (and the same user, for the privilege
// check) always reads the same rows, so a cached answer is exactly what a new read would give.
// Must never: serve a state read under another snapshot.
RealtimeState state_of(int64_t id, int depth) {
    if (depth > 0 || !ActiveSnapshotSet()) return read_state(id, depth);
    // xmin and xmax alone do not tell two snapshots apart (a transaction between them may have
    // committed in between); the count of completed transactions the snapshot was taken at does
    // (PostgreSQL 14+ keeps it in every snapshot, and copies it with the snapshot).
    struct Key {
        LocalTransactionId lxid;
        TransactionId xmin, xmax;
        uint64 completions;
        CommandId curcid;
        Oid user;
        bool operator==(const Key &o) const {
            return lxid == o.lxid && xmin == o.xmin && xmax == o.xmax && completions == o.completions &&
                   curcid == o.curcid && user == o.user;
        }
    };
    Snapshot snap = GetActiveSnapshot();
    if (snap->snapXactCompletionCount == 0) return read_state(id, depth);  // not comparable: read
    const Key key{MyProc->lxid, snap->xmin, snap->xmax, snap->snapXactCompletionCount, snap->curcid, GetUserId()};
    static std::map<int64_t, std::pair<Key, RealtimeState>> cache;
    auto it = cache.find(id);
    if (it != cache.end() && it->second.first == key) return it->second.second;
    if (it != cache.end() && it->second.first.lxid != key.lxid) cache.clear();  // a new transaction
    RealtimeState st = read_state(id, depth);
    cache[id] = {key, st};
    return st;
}

RealtimeState read_state(int64_t id, int depth) {
    if (depth > kMaxLevels) fail(sqlstate::program_limit_exceeded, "rollups are nested too deeply");
    wait_for_commit_phase(id);
    pg::SpiSession spi;
    std::vector<pg::Row> row, inv;
    {
        // In the statement's own snapshot (read-only SPI): never newer than the rows it reads here.
        pg::AsSuperuser catalog_reader;
        row = spi.query_saved("SELECT CASE WHEN frontier IS NULL THEN NULL "
                        "ELSE ((extract(epoch FROM frontier) * 1000000)::bigint - 946684800000000) END, "
                        "stride_us, origin_us, source_rollup, target::oid FROM rollup.rollup WHERE rollup_id = $1",
                        {pg::int_param(id)}, true);
        inv = spi.query_saved("SELECT (extract(epoch FROM lo) * 1000000)::bigint - 946684800000000, "
                        "(extract(epoch FROM hi) * 1000000)::bigint - 946684800000000 "
                        "FROM rollup.rollup_invalidation WHERE rollup_id = $1",
                        {pg::int_param(id)}, true);
    }
    if (row.empty())
        fail(sqlstate::undefined_object, "rollup " + std::to_string(id) + " does not exist",
             "A real-time view outlived its rollup.", "Drop the view.");
    // What a rollup's view reveals (its frontier and stale ranges) is for those who may read its
    // target, as the view itself is.
    if (depth == 0) {
        const Oid target = static_cast<Oid>(std::stoul(*row[0][4]));
        const Oid me = GetUserId();
        if (pg::call([&] { return pg_class_aclcheck(target, me, ACL_SELECT); }) != ACLCHECK_OK)
            fail(sqlstate::insufficient_privilege, "permission denied for rollup " + std::to_string(id),
                 "Reading a rollup's real-time state needs SELECT on its target.");
    }
    RealtimeState st;
    if (row[0][0]) st.frontier = std::stoll(*row[0][0]);
    const core::Bucketing b(std::stoll(*row[0][1]), std::stoll(*row[0][2]));
    std::vector<core::TimeRange> recorded, below;
    for (auto &r : inv) recorded.push_back({std::stoll(*r[0]), std::stoll(*r[1])});
    // A rollup of a rollup: what the rollup below has not finalized under this one's frontier is
    // stale here too (its target changes at its next run).
    if (row[0][3]) {
        RealtimeState lower = read_state(std::stoll(*row[0][3]), depth + 1);
        below = lower.stale;
    }
    st.from_source = core::realtime_source_buckets(b, st.frontier, recorded, below);
    if (st.frontier) st.stale = core::clip(st.from_source, core::kNoBegin, *st.frontier);
    return st;
}

Datum timestamptz_datum(int64_t us) { return TimestampTzGetDatum(us); }

// The target's columns in attribute order (no dropped ones): name, type, typmod, attno.
struct Column {
    std::string name;
    Oid type;
    int32 typmod;
    AttrNumber attno;
};

std::vector<Column> columns_of(Oid relid) {
    // A copy of the descriptor, made under pg::call; the C++ vector is filled outside it.
    TupleDesc d = pg::call([&] {
        Relation rel = relation_open(relid, AccessShareLock);
        TupleDesc copy = CreateTupleDescCopy(RelationGetDescr(rel));
        relation_close(rel, AccessShareLock);
        return copy;
    });
    std::vector<Column> out;
    for (int i = 0; i < d->natts; i++) {
        Form_pg_attribute a = TupleDescAttr(d, i);
        if (a->attisdropped) continue;
        out.push_back({NameStr(a->attname), a->atttypid, a->atttypmod, a->attnum});
    }
    return out;
}

std::string type_sql(Oid type, int32 typmod) {
    return pg::call([&] { return std::string(format_type_extended(type, typmod, FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY)); });
}

std::string fn(const char *name, int64_t id) {
    return std::string("rollup.") + name + "(" + std::to_string(id) + "::pg_catalog.int8)";
}

// Renumbers Vars of range-table entry 1 (the source) to the positions of the subquery that replaces it.
// Runs inside pg::call: no C++ object with a destructor on its frames, no ereport (a column it
// cannot map stops the walk and is reported by the caller).
struct Renumber {
    const AttrNumber *position;  // by attno
    int npositions;
    AttrNumber missing;
    static bool walk(Node *n, Renumber *ctx) {
        if (!n) return false;
        if (IsA(n, Var)) {
            Var *v = reinterpret_cast<Var *>(n);
            if (v->varno == 1 && v->varlevelsup == 0 && v->varattno > 0) {
                if (v->varattno >= ctx->npositions || ctx->position[v->varattno] == 0) {
                    ctx->missing = v->varattno;
                    return true;
                }
                v->varattno = ctx->position[v->varattno];
                v->varattnosyn = v->varattno;
            }
            return false;
        }
        if (IsA(n, Query))
            return query_tree_walker(reinterpret_cast<Query *>(n), reinterpret_cast<bool (*)()>(walk), ctx, 0);
        return expression_tree_walker(n, reinterpret_cast<bool (*)()>(walk), ctx);
    }
};

// The rollup query with `cond` (SQL over the source's columns) added to its WHERE, reading
// `lower_sql` (the real-time SELECT of the rollup below, empty when the source is a table) in place
// of the source; printed from the tree.
std::string rollup_query_where(const Rollup &r, const std::string &cond, const std::string &lower_sql) {
    Query *q = query_with(r, cond);
    if (!lower_sql.empty()) {
        Query *sub = analyze(lower_sql);
        const std::vector<Column> cols = columns_of(r.source);
        std::vector<AttrNumber> position(static_cast<size_t>(cols.empty() ? 1 : cols.back().attno + 1), 0);
        for (size_t k = 0; k < cols.size(); k++) position[static_cast<size_t>(cols[k].attno)] = static_cast<AttrNumber>(k + 1);
        Renumber ctx{position.data(), static_cast<int>(position.size()), 0};
        pg::call([&] { query_tree_walker(q, reinterpret_cast<bool (*)()>(Renumber::walk), &ctx, 0); });
        if (ctx.missing)
            fail(sqlstate::feature_not_supported,
                 "the rollup below has no column " + std::to_string(ctx.missing) + " in its real-time form");
        List *names = NIL;
        for (const Column &c : cols) {
            const char *cname = c.name.c_str();
            names = pg::call([&] { return lappend(names, makeString(pstrdup(cname))); });
        }
        pg::call([&] {
            RangeTblEntry *rte = rt_fetch(1, q->rtable);
            const char *alias = rte->eref->aliasname;
            rte->rtekind = RTE_SUBQUERY;
            rte->subquery = sub;
            rte->relid = InvalidOid;
            rte->relkind = 0;
            rte->rellockmode = 0;
            rte->tablesample = nullptr;
            rte->inh = false;
            rte->requiredPerms = 0;
            rte->checkAsUser = InvalidOid;
            rte->selectedCols = nullptr;
            rte->insertedCols = nullptr;
            rte->updatedCols = nullptr;
            rte->extraUpdatedCols = nullptr;
            rte->alias = makeAlias(alias, NIL);
            rte->eref = makeAlias(alias, names);
        });
    }
    return print_query(q);
}

// The real-time SELECT of rollup r: the target's columns, exact at the moment of the statement.
std::string realtime_select(const Rollup &r, int depth) {
    if (depth > kMaxLevels) fail(sqlstate::program_limit_exceeded, "rollups are nested too deeply");
    const std::vector<Column> cols = columns_of(r.target);
    Shape s = analyze_shape(r.query);
    const std::string id_sb = fn("realtime_source_buckets", r.id), id_fr = fn("realtime_frontier", r.id),
                      id_ps = fn("realtime_stale_start", r.id), id_pe = fn("realtime_stale_end", r.id);
    const std::string tb = "t." + quote(r.target_bucket), tk = "t." + quote(r.target_key);
    std::string tcols, qcols;
    for (const Column &c : cols) {
        tcols += (tcols.empty() ? "" : ", ") + ("t." + quote(c.name));
        bool fed = false;
        for (auto &o : s.outputs) fed = fed || o.first == c.name;
        // What the run's INSERT stores: the query's value converted to the column's type; NULL for a
        // column the query does not feed (a default is not what the view should invent).
        qcols += (qcols.empty() ? "" : ", ") + std::string("CAST(") + (fed ? "q." + quote(c.name) : "NULL") + " AS " +
                 type_sql(c.type, c.typmod) + ") AS " + quote(c.name);
    }
    // The source: the table, or the rollup below in real time (built once, read by three arms).
    std::string lower_sql;
    if (r.source_rollup) {
        const Rollup lower = load("WHERE rollup_id = $1", {pg::int_param(*r.source_rollup)}, "below " + r.name);
        lower_sql = realtime_select(lower, depth + 1);
    }
    const std::string source_from = lower_sql.empty() ? qualified(r.source) : "(" + lower_sql + ")";
    const std::string st = "s." + quote(r.time_column), tc = quote(r.time_column);
    const std::string stride = "'" + std::to_string(s.stride) + " microseconds'::pg_catalog.\"interval\"";
    std::string sql;
    sql += "SELECT " + tcols + " FROM " + qualified(r.target) + " t WHERE NOT (" + tb + " OPERATOR(pg_catalog.<@) " + id_sb + ")";
    sql += "\nUNION ALL\nSELECT " + tcols + " FROM " + qualified(r.target) + " t WHERE " + tb + " OPERATOR(pg_catalog.>=) " + id_ps +
           " AND " + tb + " OPERATOR(pg_catalog.<) " + id_pe + " AND " + tb + " OPERATOR(pg_catalog.<@) " + id_sb +
           " AND NOT EXISTS (SELECT 1 FROM " + source_from + " s WHERE s." + quote(r.source_key) + " OPERATOR(pg_catalog.=) " + tk +
           " AND " + st + " OPERATOR(pg_catalog.>=) " + tb + " AND " + st + " OPERATOR(pg_catalog.<) (" + tb +
           " OPERATOR(pg_catalog.+) " + stride + ") AND " + st + " OPERATOR(pg_catalog.>=) " + id_ps + " AND " + st +
           " OPERATOR(pg_catalog.<) " + id_pe + ")";
    sql += "\nUNION ALL\nSELECT " + qcols + " FROM (" + rollup_query_where(r, tc + " OPERATOR(pg_catalog.>=) " + id_fr, lower_sql) + ") q";
    sql += "\nUNION ALL\nSELECT " + qcols + " FROM (" +
           rollup_query_where(r, tc + " OPERATOR(pg_catalog.>=) " + id_ps + " AND " + tc + " OPERATOR(pg_catalog.<) " + id_pe,
                              lower_sql) +
           ") q WHERE q." + quote(r.target_bucket) + " OPERATOR(pg_catalog.<@) " + id_sb;
    return sql;
}

}  // namespace

}  // namespace rollup::engine

using namespace rollup;
using rollup::engine::fail;

ROLLUP_FUNCTION(rollup_create_realtime_view) {
    const std::string name = pg::call([&] { return std::string(text_to_cstring(PG_GETARG_TEXT_PP(0))); });
    const std::string view_name = pg::call([&] { return std::string(text_to_cstring(PG_GETARG_TEXT_PP(1))); });
    engine::Rollup r = engine::load("WHERE name = $1", {pg::text_param(name)}, "\"" + name + "\"");
    if (!pg::call([&] { return has_privs_of_role(GetUserId(), r.owner); }))
        fail(sqlstate::insufficient_privilege, "permission denied for rollup " + r.name,
             "Only the owner of a rollup (or a superuser) may create its real-time view.");
    // The view's name as CREATE VIEW takes it: [schema.]name, each part quoted again.
    const char *view_cstr = view_name.c_str();
    List *view_names = pg::call([&] { return stringToQualifiedNameList(view_cstr); });
    const int parts = pg::call([&] { return list_length(view_names); });
    if (parts < 1 || parts > 2)
        fail(make_sqlstate("42602"), "improper view name: " + view_name, "", "Give a name or schema.name.");
    // The schema as CREATE VIEW would pick it on the caller's search_path (the statement itself runs
    // with a pinned one, inside SPI).
    const char *qv = pg::call([&] {
        RangeVar *rv = makeRangeVarFromNameList(view_names);
        Oid nsp = RangeVarGetCreationNamespace(rv);
        return quote_qualified_identifier(get_namespace_name(nsp), rv->relname);
    });
    const std::string qualified_view(qv);
    const std::string select = engine::realtime_select(r, 0);
    pg::SpiSession spi;
    // As the caller, who owns the view (CREATE privilege on the schema checked by CREATE VIEW).
    spi.execute("CREATE VIEW " + qualified_view + " AS " + select, {}, false);
    pg::call([] { CommandCounterIncrement(); });
    const Oid view = pg::call([&] {
        List *names = stringToQualifiedNameList(qualified_view.c_str());
        return RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, false);
    });
    const std::string comment_text = "real-time view of rollup " + r.name +
                                     ": its target below the frontier plus the rollup query over newer rows "
                                     "(rollup.create_realtime_view)";
    const char *comment_cstr = comment_text.c_str();
    const std::string comment(pg::call([&] { return quote_literal_cstr(comment_cstr); }));
    spi.execute("COMMENT ON VIEW " + qualified_view + " IS " + comment, {}, false);
    pg::AsSuperuser catalog_writer;
    spi.execute("INSERT INTO rollup.realtime_view (view_oid, rollup_id) VALUES ($1, $2)",
                {pg::oid_param(view), pg::int_param(r.id)}, false);
    PG_RETURN_VOID();
}

ROLLUP_FUNCTION(rollup_realtime_source_buckets) {
    const engine::RealtimeState st = engine::state_of(PG_GETARG_INT64(0), 0);
    // Plain arrays only inside pg::call: an error there must not skip a C++ destructor.
    const int n = static_cast<int>(st.from_source.size());
    std::vector<RangeBound> lows(static_cast<size_t>(n)), highs(static_cast<size_t>(n));
    for (int i = 0; i < n; i++) {
        const core::TimeRange &x = st.from_source[static_cast<size_t>(i)];
        RangeBound &lo = lows[static_cast<size_t>(i)], &hi = highs[static_cast<size_t>(i)];
        lo = RangeBound{};
        hi = RangeBound{};
        lo.val = engine::timestamptz_datum(x.lo);
        lo.infinite = x.lo == core::kNoBegin;
        lo.inclusive = !lo.infinite;
        lo.lower = true;
        hi.val = engine::timestamptz_datum(x.hi);
        hi.infinite = x.hi >= core::kEndTimestamp;
        hi.inclusive = false;
        hi.lower = false;
    }
    RangeBound *lo_arr = lows.data(), *hi_arr = highs.data();
    MultirangeType *mr = pg::call([&] {
        TypeCacheEntry *rt = lookup_type_cache(TSTZRANGEOID, TYPECACHE_RANGE_INFO);
        RangeType **ranges = static_cast<RangeType **>(palloc(sizeof(RangeType *) * (n > 0 ? n : 1)));
        for (int i = 0; i < n; i++) ranges[i] = make_range(rt, &lo_arr[i], &hi_arr[i], false);
        return make_multirange(TSTZMULTIRANGEOID, rt, n, ranges);
    });
    PG_RETURN_MULTIRANGE_P(mr);
}

// The frontier; -infinity before the first run (every source row is read).
ROLLUP_FUNCTION(rollup_realtime_frontier) {
    const engine::RealtimeState st = engine::state_of(PG_GETARG_INT64(0), 0);
    PG_RETURN_TIMESTAMPTZ(st.frontier ? *st.frontier : DT_NOBEGIN);
}

// Where the stale buckets below the frontier start and end; NULL when there are none (the arms
// that read them then plan to nothing on the shards).
ROLLUP_FUNCTION(rollup_realtime_stale_start) {
    const engine::RealtimeState st = engine::state_of(PG_GETARG_INT64(0), 0);
    if (st.stale.empty()) PG_RETURN_NULL();
    PG_RETURN_TIMESTAMPTZ(st.stale.front().lo == core::kNoBegin ? DT_NOBEGIN : st.stale.front().lo);
}

ROLLUP_FUNCTION(rollup_realtime_stale_end) {
    const engine::RealtimeState st = engine::state_of(PG_GETARG_INT64(0), 0);
    if (st.stale.empty()) PG_RETURN_NULL();
    PG_RETURN_TIMESTAMPTZ(st.stale.back().hi);
}
