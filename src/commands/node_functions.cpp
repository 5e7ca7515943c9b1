// rollup.add_node / rollup.remove_node and the small metadata functions.
#include <string>
#include <vector>

#include "executor/remote_exec.hpp"
#include "metadata/metadata_cache.hpp"
#include "pg/spi.hpp"
#include "transaction/remote_transaction.hpp"

using namespace rollup;

namespace {

std::string text_arg(FunctionCallInfo fcinfo, int n) {
    text *t = PG_GETARG_TEXT_PP(n);
    return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

void ensure_superuser(const char *what) {
    if (!superuser())
        throw PgError(sqlstate::insufficient_privilege, std::string("must be superuser to ") + what);
}

void ensure_extension() {
    if (!metadata::extension_ready())
        throw PgError(sqlstate::object_not_in_prerequisite_state, "extension \"rollup\" is not installed",
                      "", "Run CREATE EXTENSION rollup.");
}

// Checks that a worker answers, with a server we can use.
void probe_node(int nodeid) {
    conn::Connection &c = conn::acquire(nodeid, 0);
    conn::send(c,
               "SELECT pg_catalog.current_setting('server_version_num')::int, "
               "pg_catalog.current_setting('max_prepared_transactions')::int");
    // Interruptible waits (a node that accepted the connection and then hangs can be cancelled).
    PGresult *res = conn::get_result(c);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) conn::throw_remote_error(c, res);
    int version = std::stoi(PQgetvalue(res, 0, 0));
    int mpx = std::stoi(PQgetvalue(res, 0, 1));
    PQclear(res);
    while (PGresult *more = conn::get_result(c)) PQclear(more);
    if (version / 10000 != PG_VERSION_NUM / 10000)
        throw PgError(sqlstate::feature_not_supported,
                      "node " + c.address + " runs PostgreSQL " + std::to_string(version / 10000) +
                          ", the coordinator runs " + std::to_string(PG_VERSION_NUM / 10000));
    if (mpx == 0)
        ereport(WARNING, (errmsg("node %s has max_prepared_transactions = 0", c.address.c_str()),
                          errhint("Transactions that write to several nodes need two-phase commit: set "
                                  "max_prepared_transactions > 0 on the node and restart it.")));
}

}  // namespace

ROLLUP_FUNCTION(rollup_add_node) {
    ensure_extension();
    ensure_superuser("add nodes");
    std::string host = text_arg(fcinfo, 0);
    int port = PG_GETARG_INT32(1);
    if (host.empty()) throw PgError(sqlstate::invalid_parameter_value, "host must not be empty");
    if (port < 1 || port > 65535)
        throw PgError(sqlstate::invalid_parameter_value, "port must be between 1 and 65535");
    pg::SpiSession spi;
    spi.execute("LOCK TABLE rollup.node IN EXCLUSIVE MODE", {}, false);
    auto rows = spi.query("SELECT nodeid FROM rollup.node WHERE host = $1 AND port = $2",
                          {pg::text_param(host), {INT4OID, std::to_string(port)}});
    if (!rows.empty()) PG_RETURN_INT32(std::stoi(*rows[0][0]));
    rows = spi.query("INSERT INTO rollup.node (host, port) VALUES ($1, $2) RETURNING nodeid",
                     {pg::text_param(host), {INT4OID, std::to_string(port)}}, false);
    int nodeid = std::stoi(*rows[0][0]);
    pg::call([] { CommandCounterIncrement(); });
    metadata::broadcast_change();
    probe_node(nodeid);
    PG_RETURN_INT32(nodeid);
}

ROLLUP_FUNCTION(rollup_remove_node) {
    ensure_extension();
    ensure_superuser("remove nodes");
    std::string host = text_arg(fcinfo, 0);
    int port = PG_GETARG_INT32(1);
    pg::SpiSession spi;
    spi.execute("LOCK TABLE rollup.node IN EXCLUSIVE MODE", {}, false);
    auto rows = spi.query("SELECT nodeid FROM rollup.node WHERE host = $1 AND port = $2",
                          {pg::text_param(host), {INT4OID, std::to_string(port)}});
    if (rows.empty())
        throw PgError(sqlstate::undefined_object, "node " + host + ":" + std::to_string(port) + " does not exist");
    std::string id = *rows[0][0];
    auto used = spi.query("SELECT count(*), string_agg(DISTINCT s.logicalrelid::text, ', ') FROM rollup.placement p "
                          "JOIN rollup.shard s USING (shardid) WHERE p.nodeid = $1",
                          {{INT4OID, id}});
    if (std::stoll(*used[0][0]) > 0)
        throw PgError(sqlstate::object_in_use,
                      "cannot remove node " + host + ":" + std::to_string(port) + ": it holds " + *used[0][0] +
                          " shard placements",
                      "Tables with shards there: " + used[0][1].value_or(""),
                      "Drop or undistribute those tables first.");
    spi.execute("DELETE FROM rollup.node WHERE nodeid = $1", {{INT4OID, id}}, false);
    pg::call([] { CommandCounterIncrement(); });
    metadata::broadcast_change();
    PG_RETURN_VOID();
}

ROLLUP_FUNCTION(rollup_shard_name) {
    int64 shardid = PG_GETARG_INT64(0);
    for (const metadata::DistTable *t : metadata::all_tables())
        for (const metadata::ShardInfo &s : t->shards)
            if (s.shardid == shardid) PG_RETURN_TEXT_P(cstring_to_text(s.name.c_str()));
    PG_RETURN_NULL();
}

ROLLUP_FUNCTION(rollup_is_distributed) {
    Oid relid = PG_GETARG_OID(0);
    PG_RETURN_BOOL(metadata::lookup(relid) != nullptr);
}

ROLLUP_FUNCTION(rollup_shard_for_value) {
    Oid relid = PG_GETARG_OID(0);
    const metadata::DistTable &t = metadata::get(relid);
    std::string value = text_arg(fcinfo, 1);
    Oid type = t.dist_type;
    Datum d = pg::call([&] {
        Oid input, ioparam;
        getTypeInputInfo(type, &input, &ioparam);
        return OidInputFunctionCall(input, const_cast<char *>(value.c_str()), ioparam, -1);
    });
    int idx = metadata::shard_index_for_value(t, d);
    PG_RETURN_INT64(t.shards[idx].shardid);
}

ROLLUP_FUNCTION(rollup_shard_stats) {
    Oid relid = PG_GETARG_OID(0);
    const metadata::DistTable &t = metadata::get(relid);
    bool can_read = pg::call([&] { return pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK; });
    if (!can_read)
        throw PgError(sqlstate::insufficient_privilege, "permission denied for table " + t.relname);
    ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    pg::call([&] { InitMaterializedSRF(fcinfo, 0); });
    std::map<int, std::string> sql_by_node;
    for (const metadata::ShardInfo &s : t.shards) {
        std::string &q = sql_by_node[s.nodeid];
        q += q.empty() ? "" : " UNION ALL ";
        std::string lit = pg::call([&] { return quote_literal_cstr(s.name.c_str()); });
        q += "SELECT " + std::to_string(s.shardid) + "::bigint, (SELECT count(*) FROM " + s.name +
             "), pg_total_relation_size(" + lit + ")";
    }
    struct Out {
        int64 shardid, rows, size;
        int nodeid;
    };
    std::vector<Out> out;
    std::vector<exec::Task> tasks;
    for (auto &kv : sql_by_node) {
        exec::Task task;
        task.nodeid = kv.first;
        task.sql = kv.second;
        int nodeid = kv.first;
        task.on_rows = [&out, nodeid](PGresult *res) {
            for (int i = 0; i < PQntuples(res); i++)
                out.push_back({std::stoll(PQgetvalue(res, i, 0)), std::stoll(PQgetvalue(res, i, 1)),
                               std::stoll(PQgetvalue(res, i, 2)), nodeid});
        };
        tasks.push_back(std::move(task));
    }
    exec::execute(tasks);
    std::sort(out.begin(), out.end(), [](const Out &a, const Out &b) { return a.shardid < b.shardid; });
    for (const Out &o : out) {
        Datum values[4] = {Int64GetDatum(o.shardid), Int32GetDatum(o.nodeid), Int64GetDatum(o.rows),
                           Int64GetDatum(o.size)};
        bool nulls[4] = {false, false, false, false};
        pg::call([&] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls); });
    }
    return (Datum)0;
}

ROLLUP_FUNCTION(rollup_recover_prepared_transactions) {
    ensure_extension();
    ensure_superuser("recover prepared transactions");
    PG_RETURN_INT32(xact::recover_prepared());
}

ROLLUP_FUNCTION(rollup_open_connection_count) { PG_RETURN_INT32(conn::open_count()); }

namespace {
// Proves the boundary: a C++ object alive when the error happens must be destroyed.
struct ScratchConnections {
    std::vector<conn::Connection *> held;
    ~ScratchConnections() {
        for (conn::Connection *c : held) conn::discard(*c);
    }
};
}  // namespace

ROLLUP_FUNCTION(rollup_test_error) {
    std::string kind = text_arg(fcinfo, 0);
    ScratchConnections scratch;
    for (const metadata::NodeInfo &n : metadata::nodes()) scratch.held.push_back(&conn::acquire(n.nodeid, 42));
    if (kind == "pg")  // a PostgreSQL error raised below C++ frames
        pg::call([] { DirectFunctionCall2(int4div, Int32GetDatum(1), Int32GetDatum(0)); });
    else if (kind == "cpp")
        throw PgError(sqlstate::invalid_parameter_value, "a C++ PgError", "with a detail", "and a hint");
    else if (kind == "std")
        throw std::runtime_error("a std::runtime_error");
    else if (kind == "unknown")
        throw 42;
    else if (kind == "remote") {
        std::vector<exec::Task> tasks;
        for (conn::Connection *c : scratch.held) {
            exec::Task t;
            t.nodeid = c->nodeid;
            t.sql = "SELECT 1/0";
            tasks.push_back(std::move(t));
        }
        if (tasks.empty()) throw PgError(sqlstate::invalid_parameter_value, "no nodes");
        exec::execute(tasks);
    } else
        throw PgError(sqlstate::invalid_parameter_value, "unknown kind \"" + kind + "\"");
    PG_RETURN_VOID();
}
