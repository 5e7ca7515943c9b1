#include <catch2/catch.hpp>

#include "core/gid.hpp"

using rollup::core::make_gid;
using rollup::core::parse_gid;

TEST_CASE("our gids parse back to their transaction id", "[gid]") {
    uint32_t xid = 0;
    REQUIRE(parse_gid(make_gid(7300000000000000001ULL, 12345, 2, 0), 7300000000000000001ULL, &xid));
    CHECK(xid == 12345);
    REQUIRE(parse_gid(make_gid(1, 4294967295U, 2147483647, 999), 1, &xid));
    CHECK(xid == 4294967295U);
}

TEST_CASE("gids a node user could prepare are not ours", "[gid]") {
    uint32_t xid = 0;
    const uint64_t sys = 7300000000000000001ULL;
    const std::string ours = make_gid(sys, 12345, 2, 0);
    CHECK_FALSE(parse_gid(ours + "'; ALTER ROLE x SUPERUSER; --", sys, &xid));
    CHECK_FALSE(parse_gid(ours + "'", sys, &xid));
    CHECK_FALSE(parse_gid(ours + " ", sys, &xid));
    CHECK_FALSE(parse_gid(make_gid(sys + 1, 12345, 2, 0), sys, &xid));   // another coordinator
    CHECK_FALSE(parse_gid("rollup_" + std::to_string(sys) + "_12345_2", sys, &xid));
    CHECK_FALSE(parse_gid("rollup_" + std::to_string(sys) + "_012345_2_0", sys, &xid));
    CHECK_FALSE(parse_gid("rollup_" + std::to_string(sys) + "_4294967296_2_0", sys, &xid));
    CHECK_FALSE(parse_gid("rollup_" + std::to_string(sys) + "_-1_2_0", sys, &xid));
    CHECK_FALSE(parse_gid("rollup_" + std::to_string(sys) + "__2_0", sys, &xid));
    CHECK_FALSE(parse_gid("", sys, &xid));
}
