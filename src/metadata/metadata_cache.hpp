// The distributed-table catalog as the hot paths see it: loaded from the rollup.* tables once,
// then kept in backend memory until a relcache invalidation of a metadata table (sent by every
// metadata change) or of a distributed table says it is stale.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "pg/guard.hpp"

namespace rollup::metadata {

struct NodeInfo {
    int nodeid = 0;
    std::string host;
    int port = 0;
    bool is_coordinator = false;
};

struct ShardInfo {
    int64_t shardid = 0;
    int index = 0;
    int32_t hash_min = 0;
    int32_t hash_max = 0;
    int nodeid = 0;
    std::string name;  // quoted, schema-qualified shard table name
};

struct DistTable {
    Oid relid = InvalidOid;
    std::string schema;   // unquoted
    std::string relname;  // unquoted
    std::string dist_column;
    AttrNumber dist_attnum = 0;
    Oid dist_type = InvalidOid;
    Oid dist_collation = InvalidOid;
    Oid hash_func = InvalidOid;
    // The default hash operator class of the column's type, looked up once with the cache (a
    // catalog scan, too slow for every planned query): its family, input type (text for a varchar
    // column) and the family's equality for that input type (texteq for a varchar column).
    Oid hash_family = InvalidOid;
    Oid hash_input_type = InvalidOid;
    Oid hash_eqop = InvalidOid;
    int shard_count = 0;
    int colocationid = 0;
    std::vector<ShardInfo> shards;  // by shard index
    FmgrInfo hash_finfo;            // fn_mcxt = CacheMemoryContext
};

// Whether `CREATE EXTENSION rollup` ran in this database (cheap: cached).
bool extension_ready();
// Whether any table is distributed (cheap: lets the hooks get out of the way).
bool any_distributed();
// nullptr if relid is not distributed.
const DistTable *lookup(Oid relid);
// Throws if not distributed.
const DistTable &get(Oid relid);
const NodeInfo &node(int nodeid);
std::vector<NodeInfo> nodes();
std::vector<const DistTable *> all_tables();

// Hash of a (non-null) distribution value with the column type's own hash function.
int32_t hash_value(const DistTable &t, Datum value);
// Index of the shard that stores the value.
int shard_index_for_value(const DistTable &t, Datum value);
// Pruning by `column <opno> value` where value has type `type`: the hash function that places such
// a value, i.e. the table's own for its own type, else (a cross-type equality such as bigint = int)
// the function of the column's hash operator family for `type`: a hash family hashes equal values
// of its member types equally, so the value lands where the equal column value was stored.
// InvalidOid: `opno` is not that family's equality for these types (no pruning).
Oid pruning_hash_func(const DistTable &t, Oid opno, Oid type);
// Index of the shard that stores values equal to `value`, hashed with `hash_func` (from above).
int shard_index_with(const DistTable &t, Oid hash_func, Datum value);

// Shard table name: <relname>_<shardid>, truncated to fit NAMEDATALEN.
std::string shard_relname(const std::string &relname, int64_t shardid);

void invalidate();
void register_callbacks();
// Tells every backend (at commit) that metadata changed.
void broadcast_change();
// The same, for a table that became distributed or local again: also invalidates the plans cached
// for statements on it.
void table_distribution_changed(Oid relid);

Oid metadata_table_oid(const char *name);

}  // namespace rollup::metadata
