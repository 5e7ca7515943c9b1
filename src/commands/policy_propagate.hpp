// Row-level security of distributed tables reaches their shards.
//
// Node sessions act as the querying user, and a user granted rights on a distributed table holds the
// same rights on its shards; so each shard carries the table's row-level security state (ENABLE /
// FORCE) and the same policies, printed from pg_policy. The node then applies them exactly as
// PostgreSQL does on the coordinator, on every path that reaches a shard: pushed-down UPDATE and
// DELETE, INSERT ... SELECT and ON CONFLICT on the shards, and a user who reads a shard table by
// name on a node. (INSERT rows routed by the coordinator are also checked there, against the
// query's WITH CHECK options: see executor/modify_scan.cpp.)
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "pg/guard.hpp"

namespace rollup::commands {

// Names of the policies of a table on the coordinator.
std::vector<std::string> policy_names(Oid relid);

// Statements that give shard_name the table's row-level security state and policies, after dropping
// the policies named in `drop_first` (names the shard may have from before).
std::vector<std::string> shard_policy_sql(Oid relid, const std::string &shard_name,
                                          const std::vector<std::string> &drop_first);

// CREATE / ALTER / DROP POLICY, ALTER POLICY ... RENAME on a distributed table, and ALTER TABLE ...
// ENABLE / DISABLE / FORCE / NO FORCE ROW LEVEL SECURITY: runs the statement, then brings every
// shard in line. Returns false when the statement is none of these or not on a distributed table.
bool handle_policy_ddl(PlannedStmt *pstmt, const std::function<void(PlannedStmt *)> &run_standard);

}  // namespace rollup::commands
