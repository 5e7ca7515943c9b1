// Which aggregates are split into per-shard partial results: a wrong "yes" gives a wrong answer,
// a wrong "no" only a slower plan (the fallback), so the rules are tested from both sides.
#include "core/partial_agg.hpp"

#include <catch2/catch.hpp>

using namespace rollup::core;

namespace {
AggFacts same_state() {
    AggFacts f;
    f.builtin = true;
    f.has_combine_fn = true;
    f.state_is_result = true;
    return f;
}
}  // namespace

TEST_CASE("count, min, max, sum(int4), bool_and merge their states", "[partial_agg]") {
    AggFacts f = same_state();
    CHECK(classify(f) == CombineKind::SameState);
    CHECK(remote_columns(CombineKind::SameState) == 1);
    f.family = AggFamily::Sum;
    f.arg = ArgCategory::SmallInt;  // sum(int4) -> int8 state, int8 result
    CHECK(classify(f) == CombineKind::SameState);
}

TEST_CASE("sum over int8 and numeric merges numeric sums", "[partial_agg]") {
    AggFacts f;
    f.builtin = true;
    f.family = AggFamily::Sum;
    f.internal_state = true;
    f.has_combine_fn = true;
    for (ArgCategory a : {ArgCategory::BigInt, ArgCategory::Numeric}) {
        f.arg = a;
        CHECK(classify(f) == CombineKind::NumericSum);
    }
}

TEST_CASE("avg splits into count and sum", "[partial_agg]") {
    AggFacts f;
    f.builtin = true;
    f.family = AggFamily::Avg;
    f.has_final_fn = true;
    f.arg = ArgCategory::SmallInt;
    CHECK(classify(f) == CombineKind::AvgNumeric);
    f.arg = ArgCategory::BigInt;
    CHECK(classify(f) == CombineKind::AvgNumeric);
    f.arg = ArgCategory::Numeric;
    CHECK(classify(f) == CombineKind::AvgNumeric);
    f.arg = ArgCategory::Float;
    CHECK(classify(f) == CombineKind::AvgFloat);
    CHECK(remote_columns(CombineKind::AvgFloat) == 2);
    f.arg = ArgCategory::Other;  // avg(interval)
    CHECK(classify(f) == CombineKind::Unsupported);
}

TEST_CASE("non-splittable aggregates fall back", "[partial_agg]") {
    AggFacts f = same_state();
    f.has_distinct = true;
    CHECK(classify(f) == CombineKind::Unsupported);
    f = same_state();
    f.has_order_by = true;
    CHECK(classify(f) == CombineKind::Unsupported);
    f = same_state();
    f.plain_kind = false;  // percentile_cont
    CHECK(classify(f) == CombineKind::Unsupported);
    f = same_state();
    f.builtin = false;  // user-defined: its combine function may not be what the name says
    CHECK(classify(f) == CombineKind::Unsupported);
    f = same_state();
    f.has_final_fn = true;  // e.g. stddev, string_agg
    CHECK(classify(f) == CombineKind::Unsupported);
    f = same_state();
    f.internal_state = true;
    CHECK(classify(f) == CombineKind::Unsupported);
    f = same_state();
    f.state_is_result = false;  // array_agg-like: state differs from result
    CHECK(classify(f) == CombineKind::Unsupported);
    f = same_state();
    f.has_combine_fn = false;
    CHECK(classify(f) == CombineKind::Unsupported);
    CHECK(remote_columns(CombineKind::Unsupported) == 0);
}
