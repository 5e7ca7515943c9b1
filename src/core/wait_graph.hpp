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

// What pg_stat_activity says about a backend's transaction.
struct XactState {
    enum Kind {
        Unknown,  // not tracked (state 'disabled': track_activities is off for it)
        Running,  // in a transaction that started at `start`
        Ending,   // no transaction start any more: it is ending its transaction (an aborted
                  // transaction block shows none)
    } kind = Unknown;
    std::string start;  // xact_start as sortable text, with Running
};

// The member of `cycle` that gives up: the youngest transaction (the latest start, then the highest
// pid). A member ending its transaction (or missing from `states`: gone) is the one breaking the
// cycle, so it ranks youngest of all; a member whose state is unknown ranks oldest (every checker
// reads the same states, so all agree on the victim).
int choose_victim(const std::vector<int> &cycle, const std::map<int, XactState> &states);

}  // namespace rollup::core
