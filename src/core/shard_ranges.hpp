// Hash-range arithmetic for hash-distributed tables.
// The 32-bit hash space [INT32_MIN, INT32_MAX] is cut into shard_count equal ranges of
// 2^32 / shard_count values; the last range also takes the remainder. Placement is therefore a pure
// function of (hash, shard_count), and co-located tables share ranges.
#pragma once
#include "core/core_only.hpp"

#include <cstdint>
#include <vector>

namespace rollup::core {

constexpr int kMinShardCount = 1;
constexpr int kMaxShardCount = 64000;

struct HashRange {
    int32_t min;
    int32_t max;
    bool contains(int32_t h) const { return h >= min && h <= max; }
};

// Width of each range except the last (which takes the remainder).
uint64_t hash_token_increment(int shard_count);

// The ranges of all shards, in shard-index order. Throws std::invalid_argument for a bad count.
std::vector<HashRange> shard_ranges(int shard_count);

// Index of the shard whose range holds `hash`.
int shard_index_for_hash(int32_t hash, int shard_count);

}  // namespace rollup::core
