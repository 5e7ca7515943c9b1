// Runs SQL tasks on nodes, all nodes at once: async libpq, one WaitEventSet per execution.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "connection/connection_pool.hpp"

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
};

// Executes every task; throws the first remote error (with the node in its context) after
// cancelling the rest. Tasks of one connection run in order; connections run in parallel.
void execute(std::vector<Task> &tasks);

// One command on each of the given nodes.
void execute_on_nodes(const std::vector<int> &nodeids, const std::string &sql, bool write);
// A (multi-statement) command per node: one round trip per node, all nodes at once.
void execute_per_node(const std::map<int, std::string> &sql_by_node, bool write);

}  // namespace rollup::exec
