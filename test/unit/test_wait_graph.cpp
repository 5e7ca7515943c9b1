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

TEST_CASE("choose_victim: the youngest transaction, then the highest pid", "[wait_graph]") {
    std::map<int, std::string> start{{100, "20261203000000000001"}, {200, "20261203000000000002"}};
    CHECK(choose_victim({100, 200}, start) == 200);
    CHECK(choose_victim({200, 100}, start) == 200);
    start[100] = start[200];
    CHECK(choose_victim({100, 200}, start) == 200);
    CHECK(choose_victim({200, 100}, start) == 200);
}

TEST_CASE("choose_victim: a member already ending its transaction is the victim", "[wait_graph]") {
    // The nodes still show the ending member's edges while the coordinator already shows no
    // transaction start for it (its aborted transaction block): the older member must not take
    // itself for the victim, or both transactions fail.
    std::map<int, std::string> start{{100, "20261203000000000001"}};
    CHECK(choose_victim({100, 200}, start) == 200);
    CHECK(choose_victim({200, 100}, start) == 200);
    start[300] = "20261203000000000009";
    CHECK(choose_victim({100, 300, 200}, start) == 200);
}
