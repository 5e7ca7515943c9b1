// The bounds that replace `date_trunc(unit, x) op c` must select exactly the rows the original does:
// checked by brute force against a model of date_trunc (floor for x >= t0, a "keep the offset"
// truncation that never moves a value up for x < t0).
#include "core/time_bucket.hpp"

#include <catch2/catch.hpp>

using namespace rollup::core;

namespace {

constexpr int64_t kMin = -1000000;
constexpr int64_t kMax = 1000000;

// date_trunc in a zone whose offset is `bad_off` (not a multiple of the unit) before t0.
int64_t model_trunc(int64_t x, int64_t unit, int64_t t0, int64_t bad_off) {
    if (x >= t0) return floor_to(x, unit);
    return floor_to(x + bad_off, unit) - bad_off;
}

bool original(CmpOp op, int64_t tx, int64_t c) {
    switch (op) {
        case CmpOp::Lt: return tx < c;
        case CmpOp::Le: return tx <= c;
        case CmpOp::Eq: return tx == c;
        case CmpOp::Ge: return tx >= c;
        case CmpOp::Gt: return tx > c;
    }
    return false;
}

bool rewritten(const Bound &b, int64_t x) {
    return (!b.has_lower || x >= b.lower) && (!b.has_upper || x < b.upper);
}

}  // namespace

TEST_CASE("floor and ceiling to a unit, negative values included", "[time_bucket]") {
    CHECK(floor_to(0, 60) == 0);
    CHECK(floor_to(59, 60) == 0);
    CHECK(floor_to(60, 60) == 60);
    CHECK(floor_to(-1, 60) == -60);
    CHECK(floor_to(-60, 60) == -60);
    CHECK(floor_to(-61, 60) == -120);
    CHECK(ceil_to(0, 60) == 0);
    CHECK(ceil_to(1, 60) == 60);
    CHECK(ceil_to(-1, 60) == 0);
    CHECK(ceil_to(-60, 60) == -60);
    CHECK(ceil_to(-61, 60) == -60);
}

TEST_CASE("bounds select exactly the rows date_trunc comparisons select", "[time_bucket]") {
    const CmpOp ops[] = {CmpOp::Lt, CmpOp::Le, CmpOp::Eq, CmpOp::Ge, CmpOp::Gt};
    for (int64_t unit : {1, 7, 60}) {
        for (int64_t t0 : {kNoBegin, int64_t(-95), int64_t(13)}) {
            for (int64_t c = -200; c <= 200; c++) {
                for (CmpOp op : ops) {
                    Bound b = bound_for(op, c, unit, t0, kMin, kMax);
                    if (t0 != kNoBegin && c < t0) {
                        CHECK_FALSE(b.ok);
                        continue;
                    }
                    REQUIRE(b.ok);
                    int64_t wrong = 0;  // first x where the two forms disagree (0: none)
                    for (int64_t x = -400; x <= 400 && !wrong; x++) {
                        int64_t tx = model_trunc(x, unit, t0 == kNoBegin ? kMin : t0, 17);
                        if (original(op, tx, c) != rewritten(b, x)) wrong = x == 0 ? 1000 : x;
                    }
                    INFO("unit " << unit << " t0 " << t0 << " c " << c << " op " << int(op));
                    CHECK(wrong == 0);
                }
            }
        }
    }
}

TEST_CASE("no bound for infinite, out of range or never aligned constants", "[time_bucket]") {
    CHECK_FALSE(bound_for(CmpOp::Gt, kNoBegin, 60, kNoBegin, kMin, kMax).ok);
    CHECK_FALSE(bound_for(CmpOp::Gt, kNoEnd, 60, kNoBegin, kMin, kMax).ok);
    CHECK_FALSE(bound_for(CmpOp::Gt, 5, 60, kNoEnd, kMin, kMax).ok);
    CHECK_FALSE(bound_for(CmpOp::Gt, kMax - 1, 60, kNoBegin, kMin, kMax).ok);  // next boundary out of range
    CHECK_FALSE(bound_for(CmpOp::Gt, kMin - 1, 60, kNoBegin, kMin, kMax).ok);
    CHECK(bound_for(CmpOp::Gt, kMax - 61, 60, kNoBegin, kMin, kMax).ok);
    // The bucket after the last one would start exactly at the end of the range: not a timestamp.
    CHECK_FALSE(bound_for(CmpOp::Gt, 600000 - 30, 60, kNoBegin, kMin, 600000).ok);
    CHECK_FALSE(bound_for(CmpOp::Le, 600000 - 60, 60, kNoBegin, kMin, 600000).ok);
    CHECK(bound_for(CmpOp::Gt, 600000 - 90, 60, kNoBegin, kMin, 600000).ok);
}

TEST_CASE("the aligned tail of a zone's offset history", "[time_bucket]") {
    OffsetHistory utc;
    utc.starts = {-100};
    utc.offsets = {0};
    utc.complete = true;
    CHECK(aligned_since(utc, 60, true) == kNoBegin);
    CHECK(aligned_since(utc, 60, false) == -100);

    // Local mean time (-4:56:02), then whole hours with DST.
    OffsetHistory ny;
    ny.starts = {-100, 10, 20, 30};
    ny.offsets = {-17762, -18000, -14400, -18000};
    ny.complete = true;
    CHECK(aligned_since(ny, 60, true) == 10);
    CHECK(aligned_since(ny, 3600, true) == 10);

    // India: +5:30 forever is a multiple of a minute, never of an hour.
    OffsetHistory india;
    india.starts = {-100, 50};
    india.offsets = {21200, 19800};
    india.complete = true;
    CHECK(aligned_since(india, 60, true) == 50);  // 21200 s is not whole minutes: from 50 on
    india.offsets = {21180, 19800};
    CHECK(aligned_since(india, 60, true) == kNoBegin);
    CHECK(aligned_since(india, 3600, true) == kNoEnd);

    // A misaligned segment in the middle moves the start after it.
    OffsetHistory mid;
    mid.starts = {-100, 0, 10, 20};
    mid.offsets = {0, 30, 0, 3600};
    mid.complete = true;
    CHECK(aligned_since(mid, 60, true) == 10);

    OffsetHistory partial = ny;
    partial.complete = false;
    CHECK(aligned_since(partial, 60, true) == kNoEnd);
}
