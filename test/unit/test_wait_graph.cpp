#include <catch2/catch.hpp>

#include "core/wait_graph.hpp"

using rollup::core::choose_victim;
using rollup::core::cycle_through;
using rollup::core::WaitGraph;

TEST_CASE("cycle_through finds the cycle through the checking backend", "[wait_graph]") {
    WaitGraph g{{10, {20}}, {20, {30}}, {30, {10}}, {40, {10}}};
    CHECK(cycle_through(g, 10) == std::vector<int>{10, 20, 30});
    CHECK(cycle_through(g, 20) == std::vector<int>{20, 30, 10});
    // 40 waits for the cycle but is not on it
    CHECK(cycle_through(g, 40).empty());
    CHECK(cycle_through(WaitGraph{{1, {2}}, {2, {3}}}, 1).empty());
    CHECK(cycle_through(WaitGraph{}, 1).empty());
}

TEST_CASE("cycle_through takes a cycle through start past a dead end and a cycle not through it",
          "[wait_graph]") {
    WaitGraph g{{1, {2, 5}}, {2, {3}}, {3, {2}}, {5, {6}}, {6, {1}}};
    CHECK(cycle_through(g, 1) == std::vector<int>{1, 5, 6});
}

using rollup::core::XactState;

XactState running(const char *start) { return {XactState::Running, start}; }

TEST_CASE("choose_victim: the youngest transaction, then the highest pid", "[wait_graph]") {
    std::map<int, XactState> st{{100, running("20261203000000000001")}, {200, running("20261203000000000002")}};
    CHECK(choose_victim({100, 200}, st) == 200);
    CHECK(choose_victim({200, 100}, st) == 200);
    st[100] = st[200];
    CHECK(choose_victim({100, 200}, st) == 200);
    CHECK(choose_victim({200, 100}, st) == 200);
    // the older transaction with the higher pid is not the victim
    std::map<int, XactState> st2{{100, running("20261203000000000009")}, {200, running("20261203000000000001")}};
    CHECK(choose_victim({100, 200}, st2) == 100);
    CHECK(choose_victim({200, 100}, st2) == 100);
}

TEST_CASE("choose_victim: a member already ending its transaction is the victim", "[wait_graph]") {
    // The nodes still show the ending member's edges while the coordinator already shows no
    // transaction start for it (its aborted transaction block): the older member must not take
    // itself for the victim, or both transactions fail.
    std::map<int, XactState> st{{100, running("20261203000000000001")}, {200, {XactState::Ending, ""}}};
    CHECK(choose_victim({100, 200}, st) == 200);
    CHECK(choose_victim({200, 100}, st) == 200);
    // a member gone from pg_stat_activity altogether is ending too
    st.erase(200);
    CHECK(choose_victim({100, 200}, st) == 200);
    st[300] = running("20261203000000000009");
    CHECK(choose_victim({100, 300, 200}, st) == 200);
}

TEST_CASE("choose_victim: a member whose state is not tracked ranks oldest", "[wait_graph]") {
    // track_activities off for a role: its backend shows state 'disabled' and no start time, for
    // its whole life; it is not ending, and every checker must agree on one victim.
    std::map<int, XactState> st{{100, {XactState::Unknown, ""}}, {200, running("20261203000000000001")}};
    CHECK(choose_victim({100, 200}, st) == 200);
    CHECK(choose_victim({200, 100}, st) == 200);
    std::map<int, XactState> both{{100, {XactState::Unknown, ""}}, {200, {XactState::Unknown, ""}}};
    CHECK(choose_victim({100, 200}, both) == 200);
    CHECK(choose_victim({200, 100}, both) == 200);
}
