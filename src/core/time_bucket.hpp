// Exact, cheaper forms of date_trunc for the statements sent to shards.
//
// date_trunc('minute', x) on timestamptz converts x to the session's local time, zeroes the seconds
// and converts back with the same UTC offset (for units below a day PostgreSQL keeps x's own offset).
// So for every x whose UTC offset is a whole number of units, date_trunc(unit, x) is x rounded down
// to a multiple of the unit counted from 2000-01-01 00:00 UTC (PostgreSQL's epoch): exactly
// date_bin(unit, x, '2000-01-01 00:00+00'), pure integer arithmetic instead of a time-zone lookup
// and a calendar conversion per row. For timestamp without time zone that holds for every x.
//
// Rules, with U the unit in microseconds and T0 the instant from which every UTC offset of the
// session's time zone is a multiple of U (aligned_since below; -infinity for UTC, +infinity when
// never):
//  * value:  date_trunc(U, x) = date_bin(U, x, epoch) when x >= T0 (always when T0 = -infinity).
//  * filter: for a constant C >= T0, date_trunc(U, x) OP C is equivalent to a plain comparison of x
//    with a bound (bound_for). Proof sketch: for x >= T0, trunc(x) = floor_U(x), which is monotone;
//    for x < T0, trunc(x) <= x < T0 <= C and the bound is >= C, so both forms agree (trunc never
//    moves a value up, because the offset is kept). NULL x gives NULL in both forms.
//  * '=' becomes two comparisons, x >= ceil_U(C) AND x < floor_U(C) + U (empty when C is not on a
//    bucket boundary, NULL for NULL x, as the original).
// Must never: rewrite when a bound or C is infinite or outside the timestamp range (bound_for says
// no), or assume a unit the zone's offsets are not multiples of.
#pragma once
#include <cstdint>
#include <vector>

#include "core/core_only.hpp"

namespace rollup::core {

constexpr int64_t kNoBegin = INT64_MIN;  // -infinity (timestamp's DT_NOBEGIN)
constexpr int64_t kNoEnd = INT64_MAX;    // +infinity (DT_NOEND)

// Floor and ceiling to a multiple of `unit` (> 0), for negative values too.
int64_t floor_to(int64_t v, int64_t unit);
int64_t ceil_to(int64_t v, int64_t unit);

enum class CmpOp { Lt, Le, Eq, Ge, Gt };

// The comparison an original `trunc(x) op c` becomes: `x lower_op lower` [AND x < upper].
struct Bound {
    bool ok = false;
    bool has_lower = false;  // x >= lower
    int64_t lower = 0;
    bool has_upper = false;  // x < upper
    int64_t upper = 0;
};

// `c` and the result in microseconds since 2000-01-01 UTC; [min_valid, max_valid) is the range of
// finite timestamps. ok = false: keep the original (c infinite, c < t0, or a bound out of range).
Bound bound_for(CmpOp op, int64_t c, int64_t unit, int64_t t0, int64_t min_valid, int64_t max_valid);

// The zone's UTC offsets over time, as consecutive segments: segment i starts at starts[i] (seconds;
// starts[0] is where the scan began) and has offset offsets[i] (seconds). `complete`: the last
// segment's offset holds forever after (the scan reached the end of the zone's changes, or far
// enough that its rules only repeat).
struct OffsetHistory {
    std::vector<int64_t> starts;
    std::vector<long> offsets;
    bool complete = false;
};

// T0 in seconds since the Unix epoch: the start of the final run of segments whose offsets are all
// multiples of `unit_seconds` (kNoEnd if the last one is not, or the history is not complete).
// The first segment counts as starting at -infinity only when `from_beginning`; otherwise a run that
// reaches back to it starts at starts[0] (rows before the scanned range keep the original form).
int64_t aligned_since(const OffsetHistory &h, int64_t unit_seconds, bool from_beginning);

}  // namespace rollup::core
