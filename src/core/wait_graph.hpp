// The wait-for graph of the distributed deadlock check (transaction/deadlock.hpp): which coordinator
// backend waits for which, merged from every node, a cycle through the checking backend, and which
// member of a cycle gives up. Pure logic, so that the choice can be tested without a cluster.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/core_only.hpp"

namespace rollup::core {

// waiter pid -> the pids it waits for
using WaitGraph = std::map<int, std::set<int>>;

// A cycle through `start` (its members, start first), or empty.
std::vector<int> cycle_through(const WaitGraph &g, int start);

// The member of `cycle` that gives up: the youngest transaction (the latest xact_start, compared as
// sortable text, then the highest pid). A member missing from xact_start has no transaction start
// any more: it is ending its transaction (an aborted transaction block shows none) and is the one
// breaking the cycle, so it ranks youngest of all.
int choose_victim(const std::vector<int> &cycle, const std::map<int, std::string> &xact_start);

}  // namespace rollup::core
