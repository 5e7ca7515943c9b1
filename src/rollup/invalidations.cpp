#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/rollup_plan.hpp"

#include "rollup/invalidations.hpp"
#include "rollup/rollup_internal.hpp"

#include "metadata/metadata_cache.hpp"
#include "pg/as_superuser.hpp"
#include "pg/spi.hpp"

namespace rollup::engine {

namespace {

// rollup.rollup's columns (src/sql/install/60_rollup.sql).
enum { RU_ID = 1, RU_NAME = 2, RU_SOURCE = 4, RU_TARGET = 5, RU_TIME_COLUMN = 8, RU_STRIDE = 11, RU_ORIGIN = 12, RU_FRONTIER = 14 };

bool cache_valid = false;
Oid cached_catalog = InvalidOid;
std::map<Oid, std::vector<AttrNumber>> tracked;  // source -> time columns

// What this transaction wrote, per (source, time column): the spans per shard.
std::map<std::pair<Oid, AttrNumber>, core::WriteLog> written;
// Rollups this transaction ran (note_run): their commit locks are taken at pre-commit.
std::vector<int64_t> runs;

struct RollupRow {
    int64_t id;
    Oid source;
    std::string time_column;
    int64_t stride, origin;
    bool has_frontier;
    int64_t frontier;
};

// PostgreSQL-style C (palloc'd; may ereport): the rows of rollup.rollup read with the latest
// snapshot (a REPEATABLE READ writer must see the frontier a run has just committed).
struct RawRollups {
    int n;
    int64 *id;
    Oid *source;
    char **time_column;
    int64 *stride, *origin, *frontier;
    bool *has_frontier;
};

RawRollups scan_rollups_c(Oid catalog, Oid only_source, int64 only_id) {
    RawRollups out{0, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
    Relation rel = table_open(catalog, AccessShareLock);
    Snapshot snap = RegisterSnapshot(GetLatestSnapshot());
    SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, snap, 0, NULL);
    int cap = 16;
    out.id = static_cast<int64 *>(palloc(sizeof(int64) * cap));
    out.source = static_cast<Oid *>(palloc(sizeof(Oid) * cap));
    out.time_column = static_cast<char **>(palloc(sizeof(char *) * cap));
    out.stride = static_cast<int64 *>(palloc(sizeof(int64) * cap));
    out.origin = static_cast<int64 *>(palloc(sizeof(int64) * cap));
    out.frontier = static_cast<int64 *>(palloc(sizeof(int64) * cap));
    out.has_frontier = static_cast<bool *>(palloc(sizeof(bool) * cap));
    TupleDesc desc = RelationGetDescr(rel);
    HeapTuple tup;
    while ((tup = systable_getnext(scan)) != NULL) {
        bool isnull;
        int64 id = DatumGetInt64(heap_getattr(tup, RU_ID, desc, &isnull));
        Oid source = DatumGetObjectId(heap_getattr(tup, RU_SOURCE, desc, &isnull));
        if (OidIsValid(only_source) && source != only_source) continue;
        if (only_id != 0 && id != only_id) continue;
        if (out.n == cap) {
            cap *= 2;
            out.id = static_cast<int64 *>(repalloc(out.id, sizeof(int64) * cap));
            out.source = static_cast<Oid *>(repalloc(out.source, sizeof(Oid) * cap));
            out.time_column = static_cast<char **>(repalloc(out.time_column, sizeof(char *) * cap));
            out.stride = static_cast<int64 *>(repalloc(out.stride, sizeof(int64) * cap));
            out.origin = static_cast<int64 *>(repalloc(out.origin, sizeof(int64) * cap));
            out.frontier = static_cast<int64 *>(repalloc(out.frontier, sizeof(int64) * cap));
            out.has_frontier = static_cast<bool *>(repalloc(out.has_frontier, sizeof(bool) * cap));
        }
        int i = out.n++;
        out.id[i] = id;
        out.source[i] = source;
        out.time_column[i] = pstrdup(NameStr(*DatumGetName(heap_getattr(tup, RU_TIME_COLUMN, desc, &isnull))));
        out.stride[i] = DatumGetInt64(heap_getattr(tup, RU_STRIDE, desc, &isnull));
        out.origin[i] = DatumGetInt64(heap_getattr(tup, RU_ORIGIN, desc, &isnull));
        Datum f = heap_getattr(tup, RU_FRONTIER, desc, &isnull);
        out.has_frontier[i] = !isnull;
        out.frontier[i] = isnull ? 0 : DatumGetTimestampTz(f);
    }
    systable_endscan(scan);
    UnregisterSnapshot(snap);
    table_close(rel, AccessShareLock);
    return out;
}

std::vector<RollupRow> scan_rollups(Oid only_source, int64_t only_id) {
    const Oid catalog = metadata::metadata_table_oid("rollup");
    RawRollups raw = pg::call([&] { return scan_rollups_c(catalog, only_source, only_id); });
    std::vector<RollupRow> out;
    for (int i = 0; i < raw.n; i++)
        out.push_back({raw.id[i], raw.source[i], raw.time_column[i], raw.stride[i], raw.origin[i], raw.has_frontier[i],
                       raw.frontier[i]});
    return out;
}

void relcache_changed(Oid relid) {
    if (relid == InvalidOid || relid == cached_catalog) cache_valid = false;
}

void xact_event(XactEvent event) {
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_COMMIT ||
        event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE) {
        written.clear();
        runs.clear();
    }
    if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) cache_valid = false;
}

}  // namespace

std::vector<AttrNumber> tracked_time_columns(Oid source) {
    if (!metadata::extension_ready()) return {};
    if (!cache_valid) {
        Oid catalog = pg::call([] {
            Oid nsp = get_namespace_oid("rollup", true);
            return OidIsValid(nsp) ? get_relname_relid("rollup", nsp) : InvalidOid;
        });
        tracked.clear();
        cached_catalog = catalog;
        if (OidIsValid(catalog)) {
            for (const RollupRow &r : scan_rollups(InvalidOid, 0)) {
                AttrNumber a = pg::call([&] { return get_attnum(r.source, r.time_column.c_str()); });
                if (a != InvalidAttrNumber) tracked[r.source].push_back(a);
            }
        }
        cache_valid = true;
    }
    auto it = tracked.find(source);
    return it == tracked.end() ? std::vector<AttrNumber>{} : it->second;
}

void note_write(Oid source, AttrNumber attno, int shard_index, const core::WriteSpan &span) {
    if (span.empty()) return;
    written[{source, attno}].add(shard_index, span);
}

void note_unknown(Oid source, const std::vector<int> &shard_indexes) {
    core::WriteSpan unknown;
    unknown.set_unknown();
    for (AttrNumber a : tracked_time_columns(source))
        for (int i : shard_indexes) written[{source, a}].add(i, unknown);
}

namespace {

// The time range [lo, hi) that top-level conjuncts `col op constant` of `quals` allow (col = attno of
// range-table entry `rti`); the whole domain when none bounds it. PostgreSQL-style C.
core::TimeRange bounds_of(Node *quals, Index rti, AttrNumber attno) {
    core::TimeRange r{core::kMinTimestamp, core::kEndTimestamp};
    List *conj = make_ands_implicit(reinterpret_cast<Expr *>(copyObjectImpl(quals)));
    ListCell *lc;
    foreach (lc, conj) {
        Node *n = static_cast<Node *>(lfirst(lc));
        if (!IsA(n, OpExpr) || list_length(reinterpret_cast<OpExpr *>(n)->args) != 2) continue;
        OpExpr *op = reinterpret_cast<OpExpr *>(n);
        Node *a = static_cast<Node *>(linitial(op->args)), *b = static_cast<Node *>(lsecond(op->args));
        bool flipped = false;
        if (IsA(a, Const) && IsA(b, Var)) {
            std::swap(a, b);
            flipped = true;
        }
        if (!IsA(a, Var) || !IsA(b, Const)) continue;
        Var *v = reinterpret_cast<Var *>(a);
        Const *c = reinterpret_cast<Const *>(b);
        if (v->varno != static_cast<int>(rti) || v->varlevelsup != 0 || v->varattno != attno || c->constisnull ||
            c->consttype != TIMESTAMPTZOID)
            continue;
        const int64_t t = DatumGetTimestampTz(c->constvalue);
        const int64_t clamped = std::max<int64_t>(core::kMinTimestamp, std::min<int64_t>(t, core::kEndTimestamp - 1));
        Oid fn = get_opcode(op->opno);
        // col < t (or t > col): rows before t; etc. Bounds are clamped into the domain, where
        // infinities are bucketed too.
        if (fn == F_TIMESTAMPTZ_EQ) {
            r.lo = std::max(r.lo, clamped);
            r.hi = std::min(r.hi, clamped + 1);
        } else if ((fn == F_TIMESTAMPTZ_LT && !flipped) || (fn == F_TIMESTAMPTZ_GT && flipped)) {
            r.hi = std::min(r.hi, t > core::kMinTimestamp ? clamped : core::kMinTimestamp + 1);
        } else if ((fn == F_TIMESTAMPTZ_LE && !flipped) || (fn == F_TIMESTAMPTZ_GE && flipped)) {
            r.hi = std::min(r.hi, clamped + 1);
        } else if ((fn == F_TIMESTAMPTZ_GT && !flipped) || (fn == F_TIMESTAMPTZ_LT && flipped)) {
            r.lo = std::max(r.lo, std::min<int64_t>(clamped + 1, core::kEndTimestamp - 1));
        } else if ((fn == F_TIMESTAMPTZ_GE && !flipped) || (fn == F_TIMESTAMPTZ_LE && flipped)) {
            r.lo = std::max(r.lo, clamped);
        }
    }
    return r;
}

}  // namespace

void note_pushdown(Oid source, const Query *query, const std::vector<int> &shard_indexes) {
    const std::vector<AttrNumber> atts = tracked_time_columns(source);
    if (atts.empty()) return;
    for (AttrNumber a : atts) {
        bool assigns = false;
        if (query->commandType == CMD_UPDATE) {
            ListCell *lc;
            foreach (lc, query->targetList) {
                TargetEntry *tle = lfirst_node(TargetEntry, lc);
                if (!tle->resjunk && tle->resno == a) assigns = true;
            }
        }
        core::WriteSpan span;
        if (assigns || query->commandType == CMD_INSERT || !query->jointree || !query->jointree->quals) {
            span.set_unknown();
        } else {
            const Index rti = static_cast<Index>(query->resultRelation);
            Node *quals = query->jointree->quals;
            const core::TimeRange r = pg::call([&] { return bounds_of(quals, rti, a); });
            if (r.empty()) continue;  // no row can match
            span.add_range(r);
        }
        for (int i : shard_indexes) written[{source, a}].add(i, span);
    }
}

void note_run(int64_t id) { runs.push_back(id); }

void insert_invalidation(pg::SpiSession &spi, int64_t rollup_id, int shard_index, const core::TimeRange &range) {
    spi.execute("INSERT INTO rollup.rollup_invalidation VALUES ($1, $2, "
                "'2000-01-01 00:00:00+00'::timestamptz + $3 * interval '1 microsecond', "
                "'2000-01-01 00:00:00+00'::timestamptz + $4 * interval '1 microsecond')",
                {pg::int_param(rollup_id), {INT4OID, std::to_string(shard_index)}, pg::int_param(range.lo),
                 pg::int_param(range.hi)},
                false);
}

void record_invalidations() {
    if (!runs.empty()) {
        const Oid catalog = metadata::metadata_table_oid("rollup");
        std::vector<int64_t> ids = std::move(runs);
        runs.clear();
        for (int64_t id : ids)
            pg::call([&] { LockDatabaseObject(catalog, static_cast<Oid>(id), kCommitLock, ExclusiveLock); });
    }
    if (written.empty()) return;
    const Oid catalog = metadata::metadata_table_oid("rollup");
    // Take what was noted: a failure below aborts the transaction, which clears it anyway.
    auto logs = std::move(written);
    written.clear();
    pg::call([] { PushActiveSnapshot(GetTransactionSnapshot()); });
    struct Pop {
        ~Pop() { PopActiveSnapshot(); }
    } pop;
    pg::SpiSession spi;
    for (auto &kv : logs) {
        const Oid source = kv.first.first;
        const AttrNumber attno = kv.first.second;
        const std::string column = pg::call([&] {
            char *n = get_attname(source, attno, true);
            return std::string(n ? n : "");
        });
        for (const RollupRow &candidate : scan_rollups(source, 0)) {
            if (candidate.time_column != column) continue;
            // The frontier lock, then the frontier a run may just have moved.
            const int64_t id = candidate.id;
            pg::call([&] { LockDatabaseObject(catalog, static_cast<Oid>(id), 0, ShareLock); });
            std::vector<RollupRow> now = scan_rollups(InvalidOid, id);
            if (now.empty()) continue;  // dropped meanwhile
            const RollupRow &r = now[0];
            if (!r.has_frontier) continue;  // the first run reads everything
            const core::Bucketing b(r.stride, r.origin);
            std::map<int, core::RangeList> inv = core::invalidations_for(b, r.frontier, kv.second);
            pg::AsSuperuser catalog_writer;
            for (auto &shard : inv)
                for (const core::TimeRange &range : shard.second)
                    insert_invalidation(spi, r.id, shard.first, range);
        }
    }
}

std::optional<int64_t> expiry_limit(Oid source, int64_t cutoff) {
    if (tracked_time_columns(source).empty()) return cutoff;
    int64_t limit = cutoff;
    // Each rollup's run lock, exclusively, until the expiring transaction ends (in id order, as
    // anyone who takes several): runs wait, and so does a writer of the source at pre-commit, where
    // it records its invalidations. Otherwise a backfill committed between this read and the
    // DELETE would be expired before any run consumed it. The frontiers are read after the locks.
    std::vector<int64_t> ids;
    for (const RollupRow &r : scan_rollups(source, 0)) ids.push_back(r.id);
    std::sort(ids.begin(), ids.end());
    const Oid catalog = metadata::metadata_table_oid("rollup");
    for (int64_t id : ids)
        pg::call([&] { LockDatabaseObject(catalog, static_cast<Oid>(id), engine::kRunLock, ExclusiveLock); });
    for (const RollupRow &r : scan_rollups(source, 0)) {
        if (!r.has_frontier) return std::nullopt;
        int64_t c = std::min<int64_t>(limit, r.frontier);
        pg::SpiSession spi;
        std::vector<pg::Row> rows;
        {
            pg::AsSuperuser catalog_reader;
            rows = spi.query("SELECT (extract(epoch FROM min(lo)) * 1000000)::bigint - 946684800000000 "
                             "FROM rollup.rollup_invalidation WHERE rollup_id OPERATOR(pg_catalog.=) $1",
                             {pg::int_param(r.id)}, false);
        }
        if (!rows.empty() && rows[0][0]) c = std::min<int64_t>(c, std::stoll(*rows[0][0]));
        const core::Bucketing b(r.stride, r.origin);
        limit = std::min<int64_t>(limit, b.start_of(c));
    }
    return limit;
}

std::string rollup_using(Oid relid) {
    if (!metadata::extension_ready()) return {};
    Oid catalog = pg::call([] {
        Oid nsp = get_namespace_oid("rollup", true);
        return OidIsValid(nsp) ? get_relname_relid("rollup", nsp) : InvalidOid;
    });
    if (!OidIsValid(catalog)) return {};
    char *name = pg::call([&]() -> char * {
        Relation rel = table_open(catalog, AccessShareLock);
        Snapshot snap = RegisterSnapshot(GetLatestSnapshot());
        SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, snap, 0, NULL);
        char *found = nullptr;
        HeapTuple tup;
        while (!found && (tup = systable_getnext(scan)) != NULL) {
            bool isnull;
            Oid source = DatumGetObjectId(heap_getattr(tup, RU_SOURCE, RelationGetDescr(rel), &isnull));
            Oid target = DatumGetObjectId(heap_getattr(tup, RU_TARGET, RelationGetDescr(rel), &isnull));
            if (source == relid || target == relid)
                found = TextDatumGetCString(heap_getattr(tup, RU_NAME, RelationGetDescr(rel), &isnull));
        }
        systable_endscan(scan);
        UnregisterSnapshot(snap);
        table_close(rel, AccessShareLock);
        return found;
    });
    return name ? std::string(name) : std::string();
}

void rollups_changed() {
    Oid catalog = metadata::metadata_table_oid("rollup");
    pg::call([&] { CacheInvalidateRelcacheByRelid(catalog); });
    cache_valid = false;
}

}  // namespace rollup::engine

extern "C" {
static void rollup_engine_relcache_callback(Datum, Oid relid) {
    rollup::pg::guard([&] { rollup::engine::relcache_changed(relid); });
}
static void rollup_engine_xact_callback(XactEvent event, void *) {
    rollup::pg::guard([&] { rollup::engine::xact_event(event); });
}
}

namespace rollup::engine {

void register_callbacks() {
    CacheRegisterRelcacheCallback(rollup_engine_relcache_callback, 0);
    RegisterXactCallback(rollup_engine_xact_callback, nullptr);
}

}  // namespace rollup::engine
