// DROP TABLE of a distributed table (sql_drop event trigger) and undistribute_table.
#include <map>
#include <string>
#include <vector>

#include "core/rollup_plan.hpp"

#include "executor/remote_exec.hpp"
#include "rollup/invalidations.hpp"
#include "metadata/metadata_cache.hpp"
#include "pg/as_superuser.hpp"
#include "pg/spi.hpp"
#include "transaction/remote_transaction.hpp"

using namespace rollup;

namespace {

// Forgets a table's shards in the metadata (the table is local from then on, in this transaction)
// and returns the statements that drop the shard tables, per node.
std::map<int, exec::Statements> forget_shards(pg::SpiSession &spi, Oid relid, const std::string &schema,
                                              const std::string &relname) {
    auto rows = spi.query(
        "SELECT s.shardid, p.nodeid FROM rollup.shard s JOIN rollup.placement p USING (shardid) "
        "WHERE s.logicalrelid = $1::oid",
        {pg::oid_param(relid)});
    std::map<int, exec::Statements> sql_by_node;
    for (auto &r : rows) {
        std::string shard = metadata::shard_relname(relname, std::stoll(*r[0]));
        const int nodeid = std::stoi(*r[1]);
        // A shard on the coordinator that is gone already (dropped with its schema) needs nothing.
        if (metadata::node(nodeid).is_coordinator) {
            bool exists = pg::call([&] {
                Oid nsp = get_namespace_oid(schema.c_str(), true);
                return OidIsValid(nsp) && OidIsValid(get_relname_relid(shard.c_str(), nsp));
            });
            if (!exists) continue;
        }
        std::string q = pg::call([&] { return quote_qualified_identifier(schema.c_str(), shard.c_str()); });
        sql_by_node[nodeid].push_back("DROP TABLE IF EXISTS " + q);
    }
    std::optional<pg::AsSuperuser> metadata_writer;  // rollup.* rows are the extension owner's
    metadata_writer.emplace();
    spi.execute("DELETE FROM rollup.shard WHERE logicalrelid = $1::oid", {pg::oid_param(relid)}, false);
    // The table's co-location group stays, even when empty: deleting it would race with a
    // concurrent create_distributed_table that just chose the group (its foreign key would fail).
    spi.execute("DELETE FROM rollup.dist_table WHERE logicalrelid = $1::oid", {pg::oid_param(relid)}, false);
    metadata::table_distribution_changed(relid);
    metadata_writer.reset();
    return sql_by_node;
}

// Drops the shards of a table (by metadata rows) and forgets it.
void drop_shards(pg::SpiSession &spi, Oid relid, const std::string &schema, const std::string &relname) {
    std::map<int, exec::Statements> drops = forget_shards(spi, relid, schema, relname);
    // The coordinator's own shards are dropped in this backend: over a connection, a DROP of a
    // shard this transaction already dropped with its schema (single-node DROP SCHEMA ... CASCADE)
    // waited for our own locks forever.
    exec::execute_per_node(drops, true, true);
}

}  // namespace

ROLLUP_FUNCTION(rollup_drop_trigger) {
    if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
        throw PgError(sqlstate::object_not_in_prerequisite_state, "not called by the event trigger manager");
    if (!metadata::extension_ready()) PG_RETURN_VOID();
    pg::SpiSession spi;
    {
        // Real-time views dropped (DROP VIEW, or along with their schema or owner) are forgotten, so
        // that a later relation with the same oid is never taken for one.
        pg::AsSuperuser catalog_writer;
        spi.execute("DELETE FROM rollup.realtime_view v USING pg_catalog.pg_event_trigger_dropped_objects() d "
                    "WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
                    "AND d.objsubid OPERATOR(pg_catalog.=) 0 AND v.view_oid OPERATOR(pg_catalog.=) d.objid",
                    {}, false);
    }
    // Rollups that read or write a dropped table go with it, with their name() functions: a
    // distributed source or target, or a local target.
    {
        std::vector<pg::Row> fns;
        pg::AsSuperuser catalog_writer;
        fns = spi.query("DELETE FROM rollup.rollup r USING pg_catalog.pg_event_trigger_dropped_objects() d "
                        "WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
                        "AND d.objsubid OPERATOR(pg_catalog.=) 0 "
                        "AND (r.source::oid OPERATOR(pg_catalog.=) d.objid OR r.target::oid OPERATOR(pg_catalog.=) d.objid) "
                        "RETURNING r.fn::oid",
                        {}, false);
        for (auto &f : fns) {
            if (!f[0]) continue;
            const Oid fn = static_cast<Oid>(std::stoul(*f[0]));
            const std::string sig = pg::call([&] {
                return std::string(SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(fn)) ? format_procedure_qualified(fn)
                                                                                         : "");
            });
            if (!sig.empty()) spi.execute("DROP FUNCTION " + sig, {}, false);
        }
        if (!fns.empty()) engine::rollups_changed();
    }
    auto dropped = spi.query(
        "SELECT d.objid, d.schema_name, d.object_name FROM pg_event_trigger_dropped_objects() d "
        "JOIN rollup.dist_table t ON t.logicalrelid::oid = d.objid "
        "WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0");
    if (dropped.empty()) PG_RETURN_VOID();
    xact::ForceRemoteTransactions force;
    for (auto &r : dropped) {
        const Oid relid = static_cast<Oid>(std::stoul(*r[0]));
        drop_shards(spi, relid, r[1].value_or(""), r[2].value_or(""));
    }
    PG_RETURN_VOID();
}

ROLLUP_FUNCTION(rollup_undistribute_table) {
    Oid relid = PG_GETARG_OID(0);
    const metadata::DistTable &t = metadata::get(relid);
    bool owner = pg::call([&] { return pg_class_ownercheck(relid, GetUserId()); });
    if (!owner) throw PgError(sqlstate::insufficient_privilege, "must be owner of table " + t.relname);
    const std::string rollup = engine::rollup_using(relid);
    if (!rollup.empty())
        throw PgError(sqlstate::object_not_in_prerequisite_state,
                      "cannot undistribute table \"" + t.relname + "\": rollup \"" + rollup + "\" uses it", "",
                      "Drop the rollup first (rollup.drop_rollup).");
    pg::call([&] { LockRelationOid(relid, ExclusiveLock); });
    // The rows come back through the shards as the owner: under FORCE ROW LEVEL SECURITY the owner's
    // own policies would filter them, and the rest would be lost with the shards.
    bool forced = pg::call([&] {
        HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
        if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for relation %u", relid);
        bool f = ((Form_pg_class)GETSTRUCT(tup))->relforcerowsecurity;
        ReleaseSysCache(tup);
        return f;
    });
    if (forced)
        throw PgError(sqlstate::object_not_in_prerequisite_state,
                      "cannot undistribute table \"" + t.relname + "\" while it has FORCE ROW LEVEL SECURITY",
                      "Its rows are read back through the shards as the owner, whom forced policies filter.",
                      "ALTER TABLE ... NO FORCE ROW LEVEL SECURITY first, then FORCE it again afterwards.");
    xact::ForceRemoteTransactions force;
    std::string schema = t.schema, relname = t.relname;
    std::vector<std::pair<int, std::string>> shards;
    for (const metadata::ShardInfo &s : t.shards) shards.emplace_back(s.nodeid, s.name);

    // The table becomes local first (metadata, in this transaction); then every shard's rows stream
    // into it, in batches of parameterized INSERTs (memory bounded by one batch, not by the table);
    // then the shard tables are dropped, through the connections that read them.
    std::string columns;
    int ncols = 0;
    std::vector<Oid> types;
    {
        Relation rel = pg::call([&] { return table_open(relid, NoLock); });
        TupleDesc desc = RelationGetDescr(rel);
        for (int i = 0; i < desc->natts; i++) {
            Form_pg_attribute att = TupleDescAttr(desc, i);
            if (att->attisdropped) continue;
            if (!columns.empty()) columns += ", ";
            columns += pg::call([&] { return quote_identifier(NameStr(att->attname)); });
            types.push_back(att->atttypid);
            ncols++;
        }
        table_close(rel, NoLock);
    }
    pg::SpiSession spi;
    std::map<int, exec::Statements> drops = forget_shards(spi, relid, schema, relname);
    pg::call([] { CommandCounterIncrement(); });
    metadata::invalidate();
    const std::string qualified =
        pg::call([&] { return quote_qualified_identifier(schema.c_str(), relname.c_str()); });
    const size_t batch_rows = std::max<size_t>(1, std::min<size_t>(1000, 65535 / std::max(1, ncols)));
    std::vector<pg::Param> batch;
    size_t rows_in_batch = 0;
    auto flush_batch = [&] {
        if (rows_in_batch == 0) return;
        // OVERRIDING SYSTEM VALUE: the rows keep their identity values (GENERATED ALWAYS included).
        std::string insert = "INSERT INTO " + qualified + " (" + columns + ") OVERRIDING SYSTEM VALUE VALUES ";
        int n = 0;
        for (size_t r = 0; r < rows_in_batch; r++) {
            insert += r ? ", (" : "(";
            for (int c = 0; c < ncols; c++) insert += (c ? ", $" : "$") + std::to_string(++n);
            insert += ")";
        }
        spi.execute(insert, batch, false);
        batch.clear();
        rows_in_batch = 0;
    };
    std::vector<exec::Task> tasks;
    for (auto &s : shards) {
        exec::Task task;
        task.nodeid = s.first;
        task.sql = "SELECT " + columns + " FROM " + s.second;
        task.write = true;  // the same connection drops the shard afterwards
        task.single_row = true;
        task.on_rows = [&](PGresult *res) {
            for (int i = 0; i < PQntuples(res); i++) {
                for (int c = 0; c < PQnfields(res) && c < ncols; c++)
                    batch.push_back({types[c], PQgetisnull(res, i, c) ? pg::Text() : pg::Text(PQgetvalue(res, i, c))});
                if (++rows_in_batch == batch_rows) flush_batch();
            }
        };
        tasks.push_back(std::move(task));
    }
    exec::execute(tasks);
    flush_batch();
    exec::execute_per_node(drops, true, true);
    PG_RETURN_VOID();
}
