// SQL text for the nodes, from a Query.
// query_for_shard() deparses with PostgreSQL's own pg_get_querydef after giving every distributed
// table of the query a unique marker alias, then swaps "<table> <marker>" for "<shard> <marker>":
// whatever PostgreSQL can print (GROUP BY, HAVING, CASE, sublinks, CTEs, UPDATE ... RETURNING)
// reaches the shard with the same meaning. Co-located tables use shards of the same index.
#pragma once
#include <string>

#include "pg/guard.hpp"

namespace rollup::deparse {

// The Query is not modified (a copy is deparsed). Throws if a distributed table's name cannot be
// located in the text (which would be a bug).
std::string query_for_shard(const Query *query, int shard_index);

// A statement on one line for EXPLAIN (the deparser indents): runs of white space outside quotes
// become one space.
std::string one_line(const std::string &sql);

// Folds external parameters and stable functions (now(), current_setting(), ...) into constants,
// at execution time, so that every shard sees the same values. Returns a new tree. The Query form
// also makes date_trunc cheap (time_buckets.hpp); the expression form leaves that to its caller.
Query *fold_for_execution(const Query *query, ParamListInfo params);
Node *fold_expression_for_execution(const Node *expr, ParamListInfo params);

}  // namespace rollup::deparse
