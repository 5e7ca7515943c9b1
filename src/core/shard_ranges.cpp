#include "core/shard_ranges.hpp"

#include <limits>
#include <stdexcept>
#include <string>

namespace rollup::core {

static void check_count(int shard_count) {
    if (shard_count < kMinShardCount || shard_count > kMaxShardCount)
        throw std::invalid_argument("shard_count must be between " + std::to_string(kMinShardCount) +
                                    " and " + std::to_string(kMaxShardCount));
}

uint64_t hash_token_increment(int shard_count) {
    check_count(shard_count);
    return (uint64_t{1} << 32) / static_cast<uint64_t>(shard_count);
}

std::vector<HashRange> shard_ranges(int shard_count) {
    const uint64_t inc = hash_token_increment(shard_count);
    std::vector<HashRange> out;
    out.reserve(shard_count);
    const int64_t lo = std::numeric_limits<int32_t>::min();
    for (int i = 0; i < shard_count; i++) {
        int64_t min = lo + static_cast<int64_t>(inc) * i;
        int64_t max = (i == shard_count - 1) ? std::numeric_limits<int32_t>::max()
                                             : min + static_cast<int64_t>(inc) - 1;
        out.push_back({static_cast<int32_t>(min), static_cast<int32_t>(max)});
    }
    return out;
}

int shard_index_for_hash(int32_t hash, int shard_count) {
    const uint64_t inc = hash_token_increment(shard_count);
    const uint64_t offset =
        static_cast<uint64_t>(static_cast<int64_t>(hash) - std::numeric_limits<int32_t>::min());
    uint64_t idx = offset / inc;
    if (idx >= static_cast<uint64_t>(shard_count)) idx = shard_count - 1;
    return static_cast<int>(idx);
}

}  // namespace rollup::core
