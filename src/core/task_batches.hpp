// How the shards one statement reads on one node are packed into remote queries: every query is a
// UNION ALL of its shards' queries (one round trip for many shards), and a node gets up to
// `max_queries` of them so that its cores work in parallel (each runs on its own connection).
#pragma once
#include "core/core_only.hpp"

#include <cstddef>
#include <vector>

namespace rollup::core {

// Splits `shards` (in order) into min(max_queries, shards.size()) contiguous batches whose sizes
// differ by at most one. Empty input gives no batch; max_queries < 1 counts as 1.
std::vector<std::vector<int>> batch_shards(const std::vector<int> &shards, int max_queries);

}  // namespace rollup::core
