// Commands run on every shard of a distributed table (expiry, maintenance).
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "pg/guard.hpp"

namespace rollup::executor {

// Runs one statement per shard, made by statement_for(the shard's quoted, schema-qualified name):
// the statement is built by the caller from quoted parts, never by substituting into SQL text, and
// each goes to its node as a single statement. All nodes at once, inside the coordinator's
// transaction. Returns the summed affected-row count.
int64_t execute_on_all_shards(Oid relid,
                              const std::function<std::string(const std::string &shard)> &statement_for);

}  // namespace rollup::executor
