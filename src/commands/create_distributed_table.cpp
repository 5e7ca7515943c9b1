// create_distributed_table / undistribute_table.
// Design note: the whole call is one coordinator transaction. Shards are created and filled inside
// remote transactions that commit with the coordinator (2PC when several nodes), so any failure
// (bad input, unreachable node, a row a shard rejects) leaves nothing behind anywhere. Rows that
// were in the table are routed by hash with COPY, counted, and removed from the shell table, which
// must stay empty from then on.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/rollup_plan.hpp"

#include "core/shard_ranges.hpp"

#include "commands/grant_propagate.hpp"
#include "commands/policy_propagate.hpp"
#include "commands/shard_ddl.hpp"
#include "executor/remote_exec.hpp"
#include "executor/shard_copy.hpp"
#include "metadata/metadata_cache.hpp"
#include "pg/as_superuser.hpp"
#include "pg/spi.hpp"
#include "planner/hooks.hpp"
#include "rollup/invalidations.hpp"
#include "transaction/remote_transaction.hpp"

namespace rollup::commands {

int default_shard_count = 32;
int next_shard_id = 0;
bool fcinfo_shard_count_given = false;

namespace {

std::string text_arg(FunctionCallInfo fcinfo, int n) {
    text *t = PG_GETARG_TEXT_PP(n);
    return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

std::string qualified_name(Oid relid) {
    return pg::call([&] {
        return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));
    });
}

void ensure_table_owner(Oid relid) {
    Oid uid = GetUserId();
    bool owner = pg::call([&] { return pg_class_ownercheck(relid, uid); });
    if (!owner) {
        std::string name = pg::call([&] { return get_rel_name(relid); });
        throw PgError(sqlstate::insufficient_privilege, "must be owner of table " + name);
    }
}

Oid hash_function_for(Oid typid) {
    Oid opclass = pg::call([&] { return GetDefaultOpClass(typid, HASH_AM_OID); });
    if (!OidIsValid(opclass)) {
        std::string tname = pg::call([&] { return format_type_be(typid); });
        throw PgError(sqlstate::undefined_function,
                      "data type " + tname + " has no hash function and cannot be a distribution column",
                      "", "Choose a column whose type has a default hash operator class (int, bigint, text, uuid, ...).");
    }
    Oid family = pg::call([&] { return get_opclass_family(opclass); });
    Oid intype = pg::call([&] { return get_opclass_input_type(opclass); });
    Oid proc = pg::call([&] { return get_opfamily_proc(family, intype, intype, HASHSTANDARD_PROC); });
    if (!OidIsValid(proc)) throw PgError(sqlstate::undefined_function, "hash operator class has no hash function");
    return proc;
}

int64_t take_shard_id(pg::SpiSession &spi) {
    if (next_shard_id > 0) return next_shard_id++;
    auto rows = spi.query("SELECT nextval('rollup.shardid_seq')", {}, false);
    return std::stoll(*rows[0][0]);
}

// Nodes that receive new shards: the workers, or the coordinator itself when there are none.
std::vector<int> target_nodes(pg::SpiSession &spi) {
    auto rows = spi.query("SELECT nodeid FROM rollup.node WHERE NOT is_coordinator ORDER BY nodeid");
    std::vector<int> ids;
    for (auto &r : rows) ids.push_back(std::stoi(*r[0]));
    if (!ids.empty()) return ids;
    rows = spi.query("SELECT nodeid FROM rollup.node WHERE is_coordinator");
    if (rows.empty()) {
        rows = spi.query(
            "INSERT INTO rollup.node (host, port, is_coordinator) VALUES ('localhost', "
            "current_setting('port')::int, true) RETURNING nodeid",
            {}, false);
        metadata::broadcast_change();
    }
    return {std::stoi(*rows[0][0])};
}

// Moves the rows of the shell table to the shards; returns how many.
uint64_t move_rows(Oid relid, const metadata::DistTable &t) {
    Relation rel = pg::call([&] { return table_open(relid, NoLock); });
    struct Close {
        Relation r;
        ~Close() { table_close(r, NoLock); }
    } close{rel};
    exec::ShardCopySink sink(t, RelationGetDescr(rel));
    Snapshot snap = pg::call([] { return RegisterSnapshot(GetLatestSnapshot()); });
    struct Unreg {
        Snapshot s;
        ~Unreg() { UnregisterSnapshot(s); }
    } unreg{snap};
    TableScanDesc scan = pg::call([&] { return table_beginscan(rel, snap, 0, nullptr); });
    TupleTableSlot *slot = pg::call([&] { return table_slot_create(rel, nullptr); });
    struct EndScan {
        TableScanDesc s;
        TupleTableSlot *slot;
        ~EndScan() {
            ExecDropSingleTupleTableSlot(slot);
            table_endscan(s);
        }
    } end{scan, slot};
    MemoryContext rowcxt = pg::call([] {
        return AllocSetContextCreate(CurrentMemoryContext, "rollup move rows", ALLOCSET_DEFAULT_SIZES);
    });
    while (pg::call([&] { return table_scan_getnextslot(scan, ForwardScanDirection, slot); })) {
        pg::call([&] { slot_getallattrs(slot); });
        MemoryContext old = MemoryContextSwitchTo(rowcxt);
        sink.add(slot->tts_values, slot->tts_isnull);
        MemoryContextSwitchTo(old);
        MemoryContextReset(rowcxt);
    }
    uint64_t stored = sink.finish();
    if (stored != sink.rows_added())
        throw PgError(sqlstate::internal_error,
                      "moved " + std::to_string(sink.rows_added()) + " rows but the shards stored " +
                          std::to_string(stored));
    return stored;
}

void create_distributed(Oid relid, const std::string &column, int shard_count, const std::string &colocate_with) {
    if (!metadata::extension_ready())
        throw PgError(sqlstate::object_not_in_prerequisite_state, "extension \"rollup\" is not ready");
    // Ownership before the lock: a role that may not distribute the table must not be able to stall
    // its writers by asking (the way PostgreSQL's RangeVarCallbackOwnsTable checks before locking).
    ensure_table_owner(relid);
    // Nobody writes while rows move; concurrent readers still see the old rows.
    pg::call([&] { LockRelationOid(relid, ExclusiveLock); });
    // The table may have been dropped or given away while we waited.
    bool exists = pg::call([&] { return SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)); });
    if (!exists) throw PgError(sqlstate::undefined_table, "table with OID " + std::to_string(relid) + " does not exist");
    char relkind = pg::call([&] { return get_rel_relkind(relid); });
    std::string relname = pg::call([&] { return get_rel_name(relid); });
    if (relkind == RELKIND_PARTITIONED_TABLE)
        throw PgError(sqlstate::feature_not_supported,
                      "cannot distribute partitioned table \"" + relname + "\"", "",
                      "Distribute a regular table; partitioned tables are not supported yet.");
    if (relkind != RELKIND_RELATION)
        throw PgError(sqlstate::wrong_object_type, "\"" + relname + "\" is not a table");
    ensure_table_owner(relid);  // again: ownership may have changed while we waited
    char persistence = pg::call([&] { return get_rel_persistence(relid); });
    if (persistence == RELPERSISTENCE_TEMP)
        throw PgError(sqlstate::feature_not_supported, "cannot distribute temporary table \"" + relname + "\"",
                      "Its rows are private to this session, shards live in other sessions.");
    if (metadata::lookup(relid))
        throw PgError(sqlstate::duplicate_object, "table \"" + relname + "\" is already distributed");
    // A local table a rollup writes: its runs go through the coordinator; distributed, its shards
    // would not be co-located with the source's nor split by the rollup's key.
    const std::string rollup = engine::rollup_using(relid);
    if (!rollup.empty())
        throw PgError(sqlstate::object_not_in_prerequisite_state,
                      "cannot distribute table \"" + relname + "\": rollup \"" + rollup + "\" writes it", "",
                      "Drop the rollup (rollup.drop_rollup), distribute the table co-located with the source, create the rollup again.");
    bool has_inherit = pg::call([&] { return has_subclass(relid) || has_superclass(relid); });
    if (has_inherit)
        throw PgError(sqlstate::feature_not_supported,
                      "cannot distribute table \"" + relname + "\": it takes part in inheritance");
    if (shard_count < core::kMinShardCount || shard_count > core::kMaxShardCount)
        throw PgError(sqlstate::invalid_parameter_value,
                      "shard_count must be between " + std::to_string(core::kMinShardCount) + " and " +
                          std::to_string(core::kMaxShardCount) + ", not " + std::to_string(shard_count));
    AttrNumber attnum = pg::call([&] { return get_attnum(relid, column.c_str()); });
    if (attnum == InvalidAttrNumber)
        throw PgError(sqlstate::undefined_column,
                      "column \"" + column + "\" of relation \"" + relname + "\" does not exist");
    if (attnum < 0)
        throw PgError(sqlstate::invalid_parameter_value, "cannot distribute by system column \"" + column + "\"");
    Oid typid = InvalidOid, collation = InvalidOid;
    int32 typmod = -1;
    pg::call([&] { get_atttypetypmodcoll(relid, attnum, &typid, &typmod, &collation); });
    Oid hashfunc = hash_function_for(typid);
    ShellDefinition def = describe_shell(relid, attnum);

    // A table named by colocate_with is looked up as the caller, on the caller's search_path.
    const metadata::DistTable *colocate_table = nullptr;
    if (colocate_with != "none" && colocate_with != "default") {
        Oid other = pg::call([&] {
            List *names = stringToQualifiedNameList(colocate_with.c_str());
            return RangeVarGetRelid(makeRangeVarFromNameList(names), AccessShareLock, false);
        });
        colocate_table = metadata::lookup(other);
        if (!colocate_table)
            throw PgError(sqlstate::invalid_parameter_value,
                          "cannot colocate with \"" + colocate_with + "\": it is not a distributed table");
    }
    // Shards belong to the table's owner, also when a superuser or a member of the owning role
    // distributes it.
    Oid owner = pg::relation_owner(relid);
    std::string owner_sql;
    if (owner != GetUserId())
        owner_sql = pg::call([&] { return std::string(quote_identifier(GetUserNameFromId(owner, false))); });

    pg::SpiSession spi;
    // The metadata rows are written as the extension's owner (pg/as_superuser.hpp), until the
    // shards are created on the nodes, which happens as the calling user.
    std::optional<pg::AsSuperuser> metadata_writer;
    metadata_writer.emplace();
    // Co-location group.
    int colocationid = 0;
    std::vector<int> placement_by_index;  // node for each shard index, from the group's first table
    if (colocate_with == "none") {
    } else if (colocate_with == "default") {
        auto rows = spi.query(
            "SELECT c.colocationid FROM rollup.colocation c WHERE c.shard_count = $1 AND c.dist_type = $2 "
            "AND c.dist_collation = $3 AND EXISTS (SELECT 1 FROM rollup.dist_table d WHERE d.colocationid = "
            "c.colocationid) ORDER BY c.colocationid LIMIT 1",
            {{INT4OID, std::to_string(shard_count)}, pg::oid_param(typid), pg::oid_param(collation)});
        if (!rows.empty()) colocationid = std::stoi(*rows[0][0]);
    } else {
        const metadata::DistTable *o = colocate_table;
        if (o->dist_type != typid || o->dist_collation != collation)
            throw PgError(sqlstate::datatype_mismatch,
                          "cannot colocate with \"" + colocate_with + "\": distribution column types differ");
        if (fcinfo_shard_count_given && o->shard_count != shard_count)
            throw PgError(sqlstate::invalid_parameter_value,
                          "cannot colocate with \"" + colocate_with + "\": it has " +
                              std::to_string(o->shard_count) + " shards, not " + std::to_string(shard_count));
        shard_count = o->shard_count;
        colocationid = o->colocationid;
    }
    if (colocationid != 0) {
        auto rows = spi.query(
            "SELECT s.shard_index, p.nodeid FROM rollup.dist_table d JOIN rollup.shard s ON s.logicalrelid = "
            "d.logicalrelid JOIN rollup.placement p USING (shardid) WHERE d.colocationid = $1 AND "
            "d.logicalrelid = (SELECT min(logicalrelid::oid)::regclass FROM rollup.dist_table WHERE colocationid = $1) "
            "ORDER BY s.shard_index",
            {{INT4OID, std::to_string(colocationid)}});
        for (auto &r : rows) placement_by_index.push_back(std::stoi(*r[1]));
    } else {
        auto rows = spi.query(
            "INSERT INTO rollup.colocation (shard_count, dist_type, dist_collation) VALUES ($1, $2, $3) "
            "RETURNING colocationid",
            {{INT4OID, std::to_string(shard_count)}, pg::oid_param(typid), pg::oid_param(collation)}, false);
        colocationid = std::stoi(*rows[0][0]);
    }
    if (placement_by_index.empty()) {
        std::vector<int> nodes = target_nodes(spi);
        for (int i = 0; i < shard_count; i++) placement_by_index.push_back(nodes[i % nodes.size()]);
    }

    // Metadata first (in this transaction), so the cache can describe the shards for routing.
    std::string colname = column;
    spi.execute(
        "INSERT INTO rollup.dist_table VALUES ($1, $2, $3, $4, $5, $6, $7)",
        {pg::oid_param(relid), pg::text_param(colname), {INT2OID, std::to_string(attnum)}, pg::oid_param(typid),
         pg::oid_param(hashfunc), {INT4OID, std::to_string(shard_count)}, {INT4OID, std::to_string(colocationid)}},
        false);
    std::vector<core::HashRange> ranges = core::shard_ranges(shard_count);
    std::map<int, exec::Statements> ddl_by_node;
    for (int i = 0; i < shard_count; i++) {
        int64_t shardid = take_shard_id(spi);
        spi.execute("INSERT INTO rollup.shard VALUES ($1, $2, $3, $4, $5)",
                    {pg::int_param(shardid), pg::oid_param(relid), {INT4OID, std::to_string(i)},
                     {INT4OID, std::to_string(ranges[i].min)}, {INT4OID, std::to_string(ranges[i].max)}},
                    false);
        spi.execute("INSERT INTO rollup.placement VALUES ($1, $2)",
                    {pg::int_param(shardid), {INT4OID, std::to_string(placement_by_index[i])}}, false);
        exec::Statements &ddl = ddl_by_node[placement_by_index[i]];
        if (ddl.empty()) ddl.push_back(schema_create_sql(def));
        auto append = [&ddl](const exec::Statements &more) { ddl.insert(ddl.end(), more.begin(), more.end()); };
        append(shard_create_sql(def, shardid));
        std::string shard_rel = metadata::shard_relname(def.relname, shardid);
        std::string shard_q = pg::call([&] { return quote_qualified_identifier(def.schema.c_str(), shard_rel.c_str()); });
        if (!owner_sql.empty()) ddl.push_back("ALTER TABLE " + shard_q + " OWNER TO " + owner_sql);
        append(shard_acl_sql(relid, shard_q));
        append(shard_policy_sql(relid, shard_q, {}));
    }
    pg::call([] { CommandCounterIncrement(); });
    metadata::table_distribution_changed(relid);
    metadata_writer.reset();

    // Create every shard: one round trip per node, all nodes at once.
    exec::execute_per_node(ddl_by_node, true);

    const metadata::DistTable &t = metadata::get(relid);
    move_rows(relid, t);
    // The shell keeps no row from now on.
    hooks::ShellWriteAllowed allow;
    spi.execute("DELETE FROM ONLY " + qualified_name(relid), {}, false);
}

}  // namespace

}  // namespace rollup::commands

using namespace rollup;

ROLLUP_FUNCTION(rollup_create_distributed_table) {
    if (PG_ARGISNULL(0)) throw PgError(sqlstate::invalid_parameter_value, "table_name must not be NULL");
    if (PG_ARGISNULL(1)) throw PgError(sqlstate::invalid_parameter_value, "distribution_column must not be NULL");
    Oid relid = PG_GETARG_OID(0);
    std::string column = commands::text_arg(fcinfo, 1);
    commands::fcinfo_shard_count_given = !PG_ARGISNULL(2);
    int shard_count = PG_ARGISNULL(2) ? commands::default_shard_count : PG_GETARG_INT32(2);
    std::string colocate = PG_ARGISNULL(3) ? "default" : commands::text_arg(fcinfo, 3);
    xact::ForceRemoteTransactions force;
    commands::create_distributed(relid, column, shard_count, colocate);
    PG_RETURN_VOID();
}
