#include "core/wait_graph.hpp"

#include <functional>
#include <tuple>

namespace rollup::core {

std::vector<int> cycle_through(const WaitGraph &g, int start) {
    std::vector<int> path;
    std::set<int> seen;
    std::function<bool(int)> dfs = [&](int v) -> bool {
        auto it = g.find(v);
        if (it == g.end()) return false;
        for (int w : it->second) {
            if (w == start) return true;
            if (seen.count(w)) continue;
            seen.insert(w);
            path.push_back(w);
            if (dfs(w)) return true;
            path.pop_back();
        }
        return false;
    };
    path.push_back(start);
    seen.insert(start);
    if (dfs(start)) return path;
    return {};
}

int choose_victim(const std::vector<int> &cycle, const std::map<int, XactState> &states) {
    // (kind, start, pid): the greatest is the victim.
    auto rank = [&](int pid) {
        auto it = states.find(pid);
        if (it == states.end()) return std::make_tuple(static_cast<int>(XactState::Ending), std::string(), pid);
        const XactState &x = it->second;
        return std::make_tuple(static_cast<int>(x.kind), x.kind == XactState::Running ? x.start : std::string(), pid);
    };
    int victim = cycle.empty() ? 0 : cycle.front();
    for (int pid : cycle)
        if (rank(pid) > rank(victim)) victim = pid;
    return victim;
}

}  // namespace rollup::core
