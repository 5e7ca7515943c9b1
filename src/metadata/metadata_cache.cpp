// Metadata cache. Design note: loading reads the rollup.* catalog tables with plain heap scans
// (never SPI), so it can run inside the planner hook without recursing into it. The loader copies
// tuples into POD arrays under pg::call and only then builds the C++ structures, so an error while
// scanning never skips a C++ destructor.
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/shard_ranges.hpp"

#include "metadata/metadata_cache.hpp"

namespace rollup::metadata {

namespace {

struct Cache {
    bool valid = false;
    std::unordered_map<Oid, std::unique_ptr<DistTable>> tables;
    std::map<int, std::unique_ptr<NodeInfo>> nodes;
};

Cache cache;
// Lifetime of what lookup(), get() and node() return: callers hold those references across calls
// that may reload the cache (an invalidation, a subtransaction abort inside a PL/pgSQL function the
// statement calls). A reload therefore keeps every entry that did not change (the same object), and
// entries that changed or disappeared are retired here, not destroyed, until the top-level
// transaction ends, when no statement can still hold them. Reloads without a metadata change (the
// common case: a subtransaction abort) retire nothing.
std::vector<std::unique_ptr<DistTable>> retired_tables;
std::vector<std::unique_ptr<NodeInfo>> retired_nodes;

bool same_table(const DistTable &a, const DistTable &b) {
    if (a.relid != b.relid || a.schema != b.schema || a.relname != b.relname || a.dist_column != b.dist_column ||
        a.dist_attnum != b.dist_attnum || a.dist_type != b.dist_type || a.dist_collation != b.dist_collation ||
        a.hash_func != b.hash_func || a.hash_family != b.hash_family || a.hash_input_type != b.hash_input_type ||
        a.hash_eqop != b.hash_eqop || a.shard_count != b.shard_count || a.colocationid != b.colocationid ||
        a.shards.size() != b.shards.size())
        return false;
    for (size_t i = 0; i < a.shards.size(); i++) {
        const ShardInfo &x = a.shards[i], &y = b.shards[i];
        if (x.shardid != y.shardid || x.index != y.index || x.hash_min != y.hash_min || x.hash_max != y.hash_max ||
            x.nodeid != y.nodeid || x.name != y.name)
            return false;
    }
    return true;
}

bool same_node(const NodeInfo &a, const NodeInfo &b) {
    return a.nodeid == b.nodeid && a.host == b.host && a.port == b.port && a.is_coordinator == b.is_coordinator;
}

// Moves `fresh` into the cache, keeping the objects of unchanged entries and retiring the rest.
void install(Cache &fresh) {
    for (auto &kv : fresh.tables) {
        auto old = cache.tables.find(kv.first);
        if (old != cache.tables.end() && old->second && same_table(*old->second, *kv.second))
            kv.second = std::move(old->second);
    }
    for (auto &kv : fresh.nodes) {
        auto old = cache.nodes.find(kv.first);
        if (old != cache.nodes.end() && old->second && same_node(*old->second, *kv.second))
            kv.second = std::move(old->second);
    }
    for (auto &kv : cache.tables)
        if (kv.second) retired_tables.push_back(std::move(kv.second));
    for (auto &kv : cache.nodes)
        if (kv.second) retired_nodes.push_back(std::move(kv.second));
    cache.tables = std::move(fresh.tables);
    cache.nodes = std::move(fresh.nodes);
}
Oid cached_dist_table_oid = InvalidOid;  // rollup.dist_table, InvalidOid while unknown
Oid cached_namespace = InvalidOid;

// Attribute numbers of the catalog tables (see src/sql/install/00_metadata.sql).
enum { DT_RELID = 1, DT_COLUMN, DT_ATTNUM, DT_TYPE, DT_HASHFUNC, DT_SHARDCOUNT, DT_COLOCATION };
enum { SH_SHARDID = 1, SH_RELID, SH_INDEX, SH_MIN, SH_MAX };
enum { PL_SHARDID = 1, PL_NODEID };
enum { ND_NODEID = 1, ND_HOST, ND_PORT, ND_COORD };
enum { CO_ID = 1, CO_SHARDCOUNT, CO_TYPE, CO_COLLATION };

// A scanned catalog table: rows of up to 8 datums, with text values copied as C strings.
struct RawRows {
    int nrows;
    int ncols;
    Datum *values;  // nrows * ncols
    bool *nulls;
};

// PODs only: may ereport (the caller wraps it in pg::call).
RawRows scan_table(Oid relid, int ncols, const int *text_cols, int ntext) {
    RawRows out{0, ncols, nullptr, nullptr};
    Relation rel = table_open(relid, AccessShareLock);
    TupleDesc desc = RelationGetDescr(rel);
    // A fresh MVCC snapshot: sees this transaction's own metadata changes up to the last CCI. For a
    // table without a syscache, GetCatalogSnapshot() takes a new one at every call, like
    // GetLatestSnapshot(), but without fixing the transaction snapshot: a load from a utility
    // statement (BEGIN, SET TRANSACTION) must leave it unset, or a following
    // "BEGIN ISOLATION LEVEL REPEATABLE READ" fails and a REPEATABLE READ transaction's snapshot
    // would be taken before its first statement (e.g. before its LOCK TABLE).
    Snapshot snap = RegisterSnapshot(GetCatalogSnapshot(relid));
    SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, snap, 0, NULL);
    int cap = 64;
    out.values = static_cast<Datum *>(palloc(sizeof(Datum) * cap * ncols));
    out.nulls = static_cast<bool *>(palloc(sizeof(bool) * cap * ncols));
    HeapTuple tup;
    while ((tup = systable_getnext(scan)) != NULL) {
        if (out.nrows == cap) {
            cap *= 2;
            out.values = static_cast<Datum *>(repalloc(out.values, sizeof(Datum) * cap * ncols));
            out.nulls = static_cast<bool *>(repalloc(out.nulls, sizeof(bool) * cap * ncols));
        }
        for (int c = 0; c < ncols; c++) {
            bool isnull;
            Datum d = heap_getattr(tup, c + 1, desc, &isnull);
            bool is_text = false;
            for (int t = 0; t < ntext; t++)
                if (text_cols[t] == c + 1) is_text = true;
            if (!isnull && is_text) {
                Form_pg_attribute att = TupleDescAttr(desc, c);
                d = PointerGetDatum(att->atttypid == NAMEOID ? pstrdup(NameStr(*DatumGetName(d)))
                                                            : TextDatumGetCString(d));
            }
            out.values[out.nrows * ncols + c] = d;
            out.nulls[out.nrows * ncols + c] = isnull;
        }
        out.nrows++;
    }
    systable_endscan(scan);
    UnregisterSnapshot(snap);
    table_close(rel, AccessShareLock);
    return out;
}

Datum cell(const RawRows &r, int row, int col) { return r.values[row * r.ncols + (col - 1)]; }

RawRows scan(const char *table, int ncols, std::initializer_list<int> text_cols) {
    Oid relid = metadata_table_oid(table);
    std::vector<int> tc(text_cols);
    const int *tcp = tc.data();
    int ntc = static_cast<int>(tc.size());
    return pg::call([&] { return scan_table(relid, ncols, tcp, ntc); });
}

void load() {
    MemoryContext tmp = pg::call([] {
        return AllocSetContextCreate(CurrentMemoryContext, "rollup metadata load", ALLOCSET_DEFAULT_SIZES);
    });
    struct Reset {
        MemoryContext old, tmp;
        ~Reset() {
            MemoryContextSwitchTo(old);
            MemoryContextDelete(tmp);
        }
    } reset{MemoryContextSwitchTo(tmp), tmp};

    Cache fresh;
    RawRows nodes = scan("node", 4, {ND_HOST});
    for (int i = 0; i < nodes.nrows; i++) {
        auto n = std::make_unique<NodeInfo>();
        n->nodeid = DatumGetInt32(cell(nodes, i, ND_NODEID));
        n->host = DatumGetCString(cell(nodes, i, ND_HOST));
        n->port = DatumGetInt32(cell(nodes, i, ND_PORT));
        n->is_coordinator = DatumGetBool(cell(nodes, i, ND_COORD));
        const int id = n->nodeid;
        fresh.nodes[id] = std::move(n);
    }
    RawRows colo = scan("colocation", 4, {});
    std::map<int, Oid> colo_collation;
    for (int i = 0; i < colo.nrows; i++)
        colo_collation[DatumGetInt32(cell(colo, i, CO_ID))] = DatumGetObjectId(cell(colo, i, CO_COLLATION));

    RawRows dts = scan("dist_table", 7, {DT_COLUMN});
    for (int i = 0; i < dts.nrows; i++) {
        auto t = std::make_unique<DistTable>();
        t->relid = DatumGetObjectId(cell(dts, i, DT_RELID));
        t->dist_column = DatumGetCString(cell(dts, i, DT_COLUMN));
        t->dist_attnum = DatumGetInt16(cell(dts, i, DT_ATTNUM));
        t->dist_type = DatumGetObjectId(cell(dts, i, DT_TYPE));
        t->hash_func = DatumGetObjectId(cell(dts, i, DT_HASHFUNC));
        t->shard_count = DatumGetInt32(cell(dts, i, DT_SHARDCOUNT));
        t->colocationid = DatumGetInt32(cell(dts, i, DT_COLOCATION));
        t->dist_collation = colo_collation.count(t->colocationid) ? colo_collation[t->colocationid] : InvalidOid;
        Oid relid = t->relid;
        char *relname = pg::call([&] { return get_rel_name(relid); });
        if (!relname) continue;  // dropped in this transaction
        Oid nsp = pg::call([&] { return get_rel_namespace(relid); });
        char *nspname = pg::call([&] { return get_namespace_name(nsp); });
        t->relname = relname;
        t->schema = nspname ? nspname : "";
        Oid fn = t->hash_func;
        FmgrInfo *finfo = &t->hash_finfo;
        pg::call([&] { fmgr_info_cxt(fn, finfo, CacheMemoryContext); });
        DistTable *tp = t.get();
        pg::call([&] {
            Oid opclass = GetDefaultOpClass(tp->dist_type, HASH_AM_OID);
            if (!OidIsValid(opclass)) return;
            tp->hash_family = get_opclass_family(opclass);
            tp->hash_input_type = get_opclass_input_type(opclass);
            tp->hash_eqop =
                get_opfamily_member(tp->hash_family, tp->hash_input_type, tp->hash_input_type, HTEqualStrategyNumber);
        });
        t->shards.resize(t->shard_count);
        fresh.tables[t->relid] = std::move(t);
    }
    RawRows shards = scan("shard", 5, {});
    std::unordered_map<int64_t, ShardInfo *> by_id;
    for (int i = 0; i < shards.nrows; i++) {
        Oid relid = DatumGetObjectId(cell(shards, i, SH_RELID));
        auto it = fresh.tables.find(relid);
        if (it == fresh.tables.end()) continue;
        int idx = DatumGetInt32(cell(shards, i, SH_INDEX));
        if (idx < 0 || idx >= it->second->shard_count) continue;
        ShardInfo &s = it->second->shards[idx];
        s.shardid = DatumGetInt64(cell(shards, i, SH_SHARDID));
        s.index = idx;
        s.hash_min = DatumGetInt32(cell(shards, i, SH_MIN));
        s.hash_max = DatumGetInt32(cell(shards, i, SH_MAX));
        std::string rel = shard_relname(it->second->relname, s.shardid);
        const char *q = pg::call([&] {
            return quote_qualified_identifier(it->second->schema.c_str(), rel.c_str());
        });
        s.name = q;
        by_id[s.shardid] = &s;
    }
    RawRows placements = scan("placement", 2, {});
    for (int i = 0; i < placements.nrows; i++) {
        auto it = by_id.find(DatumGetInt64(cell(placements, i, PL_SHARDID)));
        if (it != by_id.end()) it->second->nodeid = DatumGetInt32(cell(placements, i, PL_NODEID));
    }
    install(fresh);
    cache.valid = true;
}

void ensure_loaded() {
    if (!cache.valid) load();
}

void relcache_callback(Datum, Oid relid) {
    // No allocation, no error: only flags (this runs inside invalidation processing).
    if (relid == InvalidOid || relid == cached_dist_table_oid) {
        cache.valid = false;
        cached_dist_table_oid = InvalidOid;
        return;
    }
    if (cache.valid && cache.tables.count(relid)) cache.valid = false;
    // Other metadata tables (shard, placement, node) change together with dist_table, which is
    // what broadcast_change() invalidates; an unknown relid needs nothing.
}

// An aborted (sub)transaction may have loaded the cache from its own metadata rows after its last
// command boundary: PostgreSQL drops the current command's invalidations on abort instead of
// replaying them locally, so broadcast_change() alone would leave that cache behind (the table
// would still look distributed in this session after a failed create_distributed_table).
void xact_callback(XactEvent event, void *) {
    if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) cache.valid = false;
    // The transaction is over: no statement holds a retired entry any more.
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_COMMIT ||
        event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE) {
        retired_tables.clear();
        retired_nodes.clear();
    }
}

void subxact_callback(SubXactEvent event, SubTransactionId, SubTransactionId, void *) {
    if (event == SUBXACT_EVENT_ABORT_SUB) cache.valid = false;
}

void syscache_callback(Datum, int, uint32) {
    cached_dist_table_oid = InvalidOid;
    cached_namespace = InvalidOid;
    cache.valid = false;
}

}  // namespace

Oid metadata_table_oid(const char *name) {
    Oid nsp = pg::call([] { return get_namespace_oid("rollup", true); });
    if (!OidIsValid(nsp))
        throw PgError(sqlstate::object_not_in_prerequisite_state, "extension \"rollup\" is not installed",
                      "", "Run CREATE EXTENSION rollup.");
    Oid relid = pg::call([&] { return get_relname_relid(name, nsp); });
    if (!OidIsValid(relid))
        throw PgError(sqlstate::undefined_table, std::string("rollup metadata table \"") + name + "\" is missing");
    return relid;
}

bool extension_ready() {
    if (OidIsValid(cached_dist_table_oid)) return true;
    if (creating_extension) return false;
    // A syscache probe: cheap enough for every statement while the extension does not exist.
    Oid nsp = get_namespace_oid("rollup", true);
    if (!OidIsValid(nsp)) return false;
    Oid relid = get_relname_relid("dist_table", nsp);
    if (!OidIsValid(relid)) return false;
    cached_namespace = nsp;
    cached_dist_table_oid = relid;
    cache.valid = false;
    return true;
}

bool any_distributed() {
    if (!IsTransactionState() || !extension_ready()) return false;
    ensure_loaded();
    return !cache.tables.empty();
}

const DistTable *lookup(Oid relid) {
    if (!any_distributed()) return nullptr;
    auto it = cache.tables.find(relid);
    return it == cache.tables.end() ? nullptr : it->second.get();
}

const DistTable &get(Oid relid) {
    const DistTable *t = lookup(relid);
    if (!t) {
        char *name = pg::call([&] { return get_rel_name(relid); });
        throw PgError(sqlstate::invalid_parameter_value,
                      std::string("table \"") + (name ? name : std::to_string(relid)) + "\" is not distributed");
    }
    return *t;
}

const NodeInfo &node(int nodeid) {
    ensure_loaded();
    auto it = cache.nodes.find(nodeid);
    if (it == cache.nodes.end() || !it->second)
        throw PgError(sqlstate::undefined_object, "node " + std::to_string(nodeid) + " does not exist");
    return *it->second;
}

std::vector<NodeInfo> nodes() {
    if (!extension_ready()) return {};
    ensure_loaded();
    std::vector<NodeInfo> out;
    for (auto &kv : cache.nodes) out.push_back(*kv.second);
    return out;
}

std::vector<const DistTable *> all_tables() {
    std::vector<const DistTable *> out;
    if (!any_distributed()) return out;
    for (auto &kv : cache.tables) out.push_back(kv.second.get());
    return out;
}

int32_t hash_value(const DistTable &t, Datum value) {
    FmgrInfo *finfo = const_cast<FmgrInfo *>(&t.hash_finfo);
    Oid coll = t.dist_collation;
    Datum h = pg::call([&] { return FunctionCall1Coll(finfo, coll, value); });
    return DatumGetInt32(h);
}

int shard_index_for_value(const DistTable &t, Datum value) {
    return core::shard_index_for_hash(hash_value(t, value), t.shard_count);
}

Oid pruning_hash_func(const DistTable &t, Oid opno, Oid type) {
    Oid family = t.hash_family, coltype = t.hash_input_type, own = t.hash_func;  // coltype: text for varchar
    if (!OidIsValid(family)) return InvalidOid;
    if (opno == t.hash_eqop && (type == t.dist_type || type == coltype)) return own;  // the common case, no lookups
    return pg::call([&]() -> Oid {
        if (!op_in_opfamily(opno, family)) return InvalidOid;
        Oid lefttype, righttype;
        int strategy;
        get_op_opfamily_properties(opno, family, false, &strategy, &lefttype, &righttype);
        if (strategy != HTEqualStrategyNumber) return InvalidOid;
        // opno must compare the column's type with the value's (either order)
        Oid valtype;
        if (lefttype == coltype)
            valtype = righttype;
        else if (righttype == coltype)
            valtype = lefttype;
        else
            return InvalidOid;
        if (type != valtype && !IsBinaryCoercible(type, valtype)) return InvalidOid;
        if (valtype == coltype) return own;
        return get_opfamily_proc(family, valtype, valtype, HASHSTANDARD_PROC);
    });
}

int shard_index_with(const DistTable &t, Oid hash_func, Datum value) {
    if (hash_func == t.hash_func) return shard_index_for_value(t, value);
    Oid coll = t.dist_collation;
    Datum h = pg::call([&] { return OidFunctionCall1Coll(hash_func, coll, value); });
    return core::shard_index_for_hash(DatumGetInt32(h), t.shard_count);
}

std::string shard_relname(const std::string &relname, int64_t shardid) {
    std::string suffix = "_" + std::to_string(shardid);
    std::string base = relname;
    const size_t max_len = NAMEDATALEN - 1;
    if (base.size() + suffix.size() > max_len) {
        // Keep names unique when the table name is long: cut it, and keep the shard id.
        base = base.substr(0, max_len - suffix.size());
        // never cut a multibyte character in half
        int cut = pg_mbcliplen(base.c_str(), static_cast<int>(base.size()), static_cast<int>(base.size()));
        base.resize(cut);
    }
    return base + suffix;
}

void invalidate() { cache.valid = false; }

void register_callbacks() {
    CacheRegisterRelcacheCallback(relcache_callback, 0);
    CacheRegisterSyscacheCallback(NAMESPACEOID, syscache_callback, 0);
    RegisterXactCallback(xact_callback, nullptr);
    RegisterSubXactCallback(subxact_callback, nullptr);
}

void broadcast_change() {
    Oid relid = metadata_table_oid("dist_table");
    pg::call([&] { CacheInvalidateRelcacheByRelid(relid); });
    cache.valid = false;
}

void table_distribution_changed(Oid relid) {
    broadcast_change();
    // Plans cached before (a prepared statement, a PL/pgSQL function's plan) depend on the table,
    // not on our metadata: its relcache invalidation makes PostgreSQL plan them again.
    pg::call([&] {
        if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid))) CacheInvalidateRelcacheByRelid(relid);
    });
}

}  // namespace rollup::metadata
