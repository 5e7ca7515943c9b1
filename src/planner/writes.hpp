// Distributed INSERT / UPDATE / DELETE / COPY / INSERT ... SELECT and DDL propagation.
// init() installs the planner, utility and executor-run hooks (each chains to the previous one);
// called from hooks::init().
#pragma once
#include <vector>

#include "metadata/metadata_cache.hpp"

namespace rollup::writes {

void init();

// Whether the statement being executed is the whole coordinator transaction: autocommit, run at
// top level by the client (not inside BEGIN, a function, a DO block or EXPLAIN ANALYZE). Then a
// write that lands on one node may commit there on its own.
// `executor_depth`: 1 for a planned statement's executor, 0 for a utility command (COPY).
bool statement_is_whole_transaction(int executor_depth = 1);

// Shard indexes an UPDATE / DELETE (already folded for execution) can touch: one when its WHERE
// pins the distribution column to a constant, else all.
std::vector<int> shards_for_query(const Query *q, const metadata::DistTable &t);

// A write statement (folded for execution) that runs on the shards as a whole (UPDATE, DELETE,
// INSERT ... ON CONFLICT DO UPDATE, and their RETURNING) must not compute values that depend on the
// session's DateStyle, IntervalStyle, extra_float_digits or bytea_output there: the node sessions
// keep those canonical, so the shards would store (or return) other values than PostgreSQL would.
// Throws 0A000.
void ensure_no_settings_dependence(const Query *q, const metadata::DistTable &t);

}  // namespace rollup::writes
