// Packing a node's shards into remote queries: every shard exactly once, in order, balanced.
#include "core/task_batches.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

using rollup::core::batch_shards;

TEST_CASE("batches cover every shard once, balanced", "[task_batches]") {
    for (int n = 0; n <= 40; n++) {
        std::vector<int> shards;
        for (int i = 0; i < n; i++) shards.push_back(100 + i);
        for (int k = 0; k <= 6; k++) {
            auto b = batch_shards(shards, k);
            int kk = k < 1 ? 1 : k;
            CHECK(b.size() == static_cast<size_t>(n == 0 ? 0 : (n < kk ? n : kk)));
            std::vector<int> flat;
            size_t mn = 1000, mx = 0;
            for (auto &v : b) {
                CHECK(!v.empty());
                mn = std::min(mn, v.size());
                mx = std::max(mx, v.size());
                flat.insert(flat.end(), v.begin(), v.end());
            }
            CHECK(flat == shards);
            if (!b.empty()) CHECK(mx - mn <= 1);
        }
    }
}
