#include "core/task_batches.hpp"

namespace rollup::core {

std::vector<std::vector<int>> batch_shards(const std::vector<int> &shards, int max_queries) {
    std::vector<std::vector<int>> out;
    if (shards.empty()) return out;
    size_t n = shards.size();
    size_t k = max_queries < 1 ? 1 : static_cast<size_t>(max_queries);
    if (k > n) k = n;
    size_t base = n / k, extra = n % k, pos = 0;
    for (size_t b = 0; b < k; b++) {
        size_t len = base + (b < extra ? 1 : 0);
        out.emplace_back(shards.begin() + pos, shards.begin() + pos + len);
        pos += len;
    }
    return out;
}

}  // namespace rollup::core
