// Runs SQL tasks on nodes, all nodes at once: async libpq, one WaitEventSet per execution.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "connection/connection_pool.hpp"
#include "metadata/metadata_cache.hpp"

namespace rollup::exec {

// Statements for one node, each a single statement (sent one per protocol message).
using Statements = std::vector<std::string>;

struct Task {
    int nodeid = 0;
    std::string sql;  // one statement (with params / prepare below); or, when `statements` is set:
    Statements statements;  // several statements, run in order in one round trip (a pipeline)
    bool write = false;       // goes through slot 0 and opens a remote transaction
    // With write: the statement is the whole coordinator transaction (autocommit, top level, one
    // node), so it is sent without BEGIN and commits on the node by itself (no COMMIT round trip).
    // Ignored when the connection is already inside a remote transaction.
    bool autocommit = false;
    bool single_row = false;  // stream rows one PGresult each (PGRES_SINGLE_TUPLE)
    // Parameters ($1, $2, ... in sql, text form; nullopt is NULL) and their types. With prepare,
    // sql is prepared once per connection and executed with the values afterwards, so a node plans
    // a statement of that shape once (bounded per connection by rollup.max_prepared_per_connection).
    std::vector<std::optional<std::string>> params;
    std::vector<Oid> param_types;
    bool prepare = false;
    // Called for each result that carries rows; must not PQclear it.
    std::function<void(PGresult *)> on_rows;
    int64_t rows_affected = 0;  // sum of PQcmdTuples over the task's statements
    std::vector<int64_t> statement_rows;  // PQcmdTuples of each statement of `statements`, in order
    // An independent write that may go through any connection of its node (not only slot 0), so
    // that several run in parallel on one node. Only when the statement is the whole transaction
    // outside a transaction block: nothing later in the transaction reads through slot 0.
    bool spread = false;
    // Task on shards held by the coordinator itself: run it in this backend (SPI), with no round
    // trip; read-only unless `write`. Set where local_read_ok() / local_write_ok() said yes; also
    // forced by execute() for every task on the coordinator once the transaction wrote locally.
    // Each statement in sql runs in turn; rows_affected and on_rows see the last one only, so
    // callers that need them send one statement per task.
    bool local = false;
};

// Whether a read of these shards (indexes into t.shards) may run in this backend: they are all on
// the coordinator, and either this transaction already wrote them locally (then the read MUST be
// local, whatever its size: see xact::wrote_locally()), or nothing was written to the
// coordinator's shards through a connection in this transaction (such writes are not visible
// locally) and the read is small: one shard, or shards whose total size is at most
// rollup.local_execution_max_pages (default 0: multi-shard reads stay on parallel connections).
bool local_read_ok(const metadata::DistTable &t, const std::vector<int> &shard_indexes);
// Whether a write to shards held by `nodeid` runs in this backend, in this transaction: the node
// is the coordinator, and either the transaction already wrote locally (then it must), or
// rollup.enable_local_execution is on and no connection wrote to the coordinator in this
// transaction (a local write could not see that connection's uncommitted rows).
bool local_write_ok(int nodeid);
// Whether everything on `nodeid` must run in this backend (the transaction wrote locally).
bool must_run_locally(int nodeid);
void define_gucs();

// What goes before a statement sent on `c`: BEGIN when `begin` (the connection then counts as in a
// remote transaction) and the session settings the node must catch up with, one statement each.
std::vector<std::string> statement_prefix(conn::Connection &c, bool begin);

// Executes every task; throws the first remote error (with the node in its context) after
// cancelling the rest. Tasks of one connection run in order; connections run in parallel.
void execute(std::vector<Task> &tasks);

// One statement on each of the given nodes.
void execute_on_nodes(const std::vector<int> &nodeids, const std::string &sql, bool write);
// Statements per node: one round trip per node (a pipeline), all nodes at once. coordinator_here:
// the coordinator's part runs in this backend, in this transaction (unless a connection to it is
// already in this transaction's remote part: then through that connection).
void execute_per_node(const std::map<int, Statements> &statements_by_node, bool write, bool coordinator_here = false);

}  // namespace rollup::exec
