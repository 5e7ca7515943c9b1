// Shard range arithmetic: every hash has exactly one shard, and the lookup agrees with the ranges.
// Placement must never change for a given (hash, shard_count): rows would be stranded on the wrong shard.
#include "core/shard_ranges.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

using rollup::core::hash_token_increment;
using rollup::core::HashRange;
using rollup::core::shard_index_for_hash;
using rollup::core::shard_ranges;

namespace {

constexpr int32_t kHashMin = std::numeric_limits<int32_t>::min();
constexpr int32_t kHashMax = std::numeric_limits<int32_t>::max();
constexpr int kMaxTestedCount = 1024;

int64_t width(const HashRange &r) { return int64_t{r.max} - int64_t{r.min} + 1; }

}  // namespace

TEST_CASE("shard ranges cover the int32 hash space without gap or overlap", "[shard_ranges]") {
    for (int n = 1; n <= kMaxTestedCount; n++) {
        INFO("shard_count = " << n);
        const std::vector<HashRange> ranges = shard_ranges(n);
        REQUIRE(ranges.size() == static_cast<size_t>(n));
        REQUIRE(ranges.front().min == kHashMin);
        REQUIRE(ranges.back().max == kHashMax);

        int64_t total = 0;
        for (int i = 0; i < n; i++) {
            INFO("shard index = " << i);
            REQUIRE(ranges[i].min <= ranges[i].max);
            total += width(ranges[i]);
            if (i > 0) {
                // the next range starts exactly one past the previous one: no gap, no overlap
                REQUIRE(int64_t{ranges[i].min} == int64_t{ranges[i - 1].max} + 1);
            }
        }
        REQUIRE(total == (int64_t{1} << 32));
    }
}

TEST_CASE("shard ranges have equal widths except the last, which takes the remainder",
          "[shard_ranges]") {
    for (int n = 1; n <= kMaxTestedCount; n++) {
        INFO("shard_count = " << n);
        const std::vector<HashRange> ranges = shard_ranges(n);
        const int64_t inc = static_cast<int64_t>(hash_token_increment(n));
        REQUIRE(inc == (int64_t{1} << 32) / n);
        for (int i = 0; i + 1 < n; i++) {
            INFO("shard index = " << i);
            REQUIRE(width(ranges[i]) == inc);
        }
        const int64_t last = width(ranges.back());
        REQUIRE(last >= inc);
        REQUIRE(last - inc == (int64_t{1} << 32) % n);  // the remainder, always < n
    }
}

TEST_CASE("shard_index_for_hash agrees with the ranges on boundary hashes", "[shard_ranges]") {
    for (int n = 1; n <= kMaxTestedCount; n++) {
        INFO("shard_count = " << n);
        const std::vector<HashRange> ranges = shard_ranges(n);

        REQUIRE(shard_index_for_hash(kHashMin, n) == 0);
        REQUIRE(shard_index_for_hash(kHashMax, n) == n - 1);

        for (int32_t h : {int32_t{0}, int32_t{-1}, int32_t{1}, kHashMin + 1, kHashMax - 1}) {
            INFO("hash = " << h);
            const int idx = shard_index_for_hash(h, n);
            REQUIRE(idx >= 0);
            REQUIRE(idx < n);
            REQUIRE(ranges[idx].contains(h));
        }
        for (int i = 0; i < n; i++) {
            INFO("shard index = " << i << ", range [" << ranges[i].min << ", " << ranges[i].max << "]");
            REQUIRE(shard_index_for_hash(ranges[i].min, n) == i);
            REQUIRE(shard_index_for_hash(ranges[i].max, n) == i);
        }
    }
}

TEST_CASE("shard_index_for_hash agrees with the ranges on random hashes", "[shard_ranges]") {
    // Fixed seed: a failure must be reproducible. Printed on failure via INFO.
    const std::mt19937::result_type seed = 20240601;
    std::mt19937 gen(seed);
    std::uniform_int_distribution<int32_t> any_hash(kHashMin, kHashMax);
    for (int n = 1; n <= kMaxTestedCount; n++) {
        INFO("seed = " << seed << ", shard_count = " << n);
        const std::vector<HashRange> ranges = shard_ranges(n);
        for (int k = 0; k < 200; k++) {
            const int32_t h = any_hash(gen);
            INFO("hash = " << h);
            const int idx = shard_index_for_hash(h, n);
            REQUIRE(idx >= 0);
            REQUIRE(idx < n);
            REQUIRE(ranges[idx].contains(h));
        }
    }
}

TEST_CASE("shard counts outside [1, 64000] are rejected", "[shard_ranges]") {
    for (int bad : {0, -1, 64001, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()}) {
        INFO("shard_count = " << bad);
        REQUIRE_THROWS_AS(shard_ranges(bad), std::invalid_argument);
        REQUIRE_THROWS_AS(hash_token_increment(bad), std::invalid_argument);
        REQUIRE_THROWS_AS(shard_index_for_hash(0, bad), std::invalid_argument);
    }
    // the bounds themselves are valid
    REQUIRE(shard_ranges(1).size() == 1);
    REQUIRE(shard_ranges(64000).size() == 64000);
    REQUIRE(shard_index_for_hash(kHashMax, 64000) == 63999);
}
