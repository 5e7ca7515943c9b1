// Commands run on every shard of a distributed table (expiry, maintenance).
#pragma once
#include <cstdint>
#include <string>

#include "pg/guard.hpp"

namespace rollup::executor {

// Runs sql_template once per shard, every "%s" replaced by the shard's quoted, schema-qualified
// name; shards of one node go in one round trip, all nodes at once, inside the coordinator's
// transaction. Returns the summed affected-row count.
int64_t execute_on_all_shards(Oid relid, const std::string &sql_template);

}  // namespace rollup::executor
