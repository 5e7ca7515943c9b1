// Settings of the utility functions (create_distributed_table & co.).
#pragma once
#include "pg/guard.hpp"

namespace rollup::commands {
extern int default_shard_count;
extern int next_shard_id;
}  // namespace rollup::commands
