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

struct Task {
    int nodeid = 0;
    std::string sql;
    bool write = false;       // goes through slot 0 and opens a remote transaction
    // With write: the statement is the whole coordinator transaction (autocommit, top level, one
    // node), so it is sent without BEGIN and commits on the node by itself (no COMMIT round trip).
    // Ignored when the connection is already inside a remote transaction.
    bool autocommit = false;
    bool single_row = false;  // stream rows one PGresult each (PGRES_SINGLE_TUPLE)
    // Called for each result that carries rows; must not PQclear it.
    std::function<void(PGresult *)> on_rows;
    int64_t rows_affected = 0;  // sum of PQcmdTuples over the task's statements
    // Read-only task on shards held by the coordinator itself: run it in this backend (SPI), with no
    // round trip. Set only where local_read_ok() said yes.
    bool local = false;
};

// Whether a read of these shards (indexes into t.shards) may run in this backend: they are all on
// the coordinator, nothing was written to the coordinator's shards through a connection in this
// transaction (such writes are not visible locally), and the read is small: one shard, or shards
// whose total size is at most rollup.local_execution_max_pages (default 0: multi-shard reads stay
// on parallel connections).
bool local_read_ok(const metadata::DistTable &t, const std::vector<int> &shard_indexes);
void define_gucs();

// Executes every task; throws the first remote error (with the node in its context) after
// cancelling the rest. Tasks of one connection run in order; connections run in parallel.
void execute(std::vector<Task> &tasks);

// One command on each of the given nodes.
void execute_on_nodes(const std::vector<int> &nodeids, const std::string &sql, bool write);
// A (multi-statement) command per node: one round trip per node, all nodes at once.
void execute_per_node(const std::map<int, std::string> &sql_by_node, bool write);

}  // namespace rollup::exec
