// Which aggregates can be split into per-shard partial results and combined on the coordinator, and
// how. Pure rules over facts the planner looks up in pg_aggregate; the executor applies them.
// The combined result must equal what PostgreSQL computes over all rows at once, with the same type:
//  - "same state" aggregates (count, sum(int2/int4/float/money/interval), min, max, bool_and/or,
//    bit_and/or): a shard's result IS the transition state, merged with the aggregate's own combine
//    function (aggcombinefn) and no final function;
//  - sum(int8), sum(numeric): shards return numeric sums, merged with numeric addition;
//  - avg(int2/int4/int8/numeric): shards return count and sum::numeric; final numeric_div(sum, count),
//    which is what int8_avg, numeric_poly_avg and numeric_avg compute;
//  - avg(float4/float8): shards return count and sum(x::float8); final sum / count (float8_avg).
// Anything else (DISTINCT, ORDER BY inside the call, ordered-set, statistics, string/array/json
// aggregates, user-defined aggregates) is not splittable: the planner falls back.
#pragma once
#include "core/core_only.hpp"

namespace rollup::core {

enum class CombineKind {
    Unsupported,
    SameState,   // one remote column; combine with aggcombinefn
    NumericSum,  // one remote column (numeric); combine with numeric addition
    AvgNumeric,  // two remote columns: count, sum::numeric
    AvgFloat,    // two remote columns: count, sum(x::float8)
};

enum class AggFamily { Other, Sum, Avg };
enum class ArgCategory { None, SmallInt, BigInt, Numeric, Float, Other };

struct AggFacts {
    bool builtin = false;          // defined by PostgreSQL itself
    bool plain_kind = true;        // aggkind 'n' (not ordered-set / hypothetical)
    bool has_distinct = false;     // count(DISTINCT x)
    bool has_order_by = false;     // string_agg(x, ',' ORDER BY y)
    bool variadic = false;
    AggFamily family = AggFamily::Other;
    ArgCategory arg = ArgCategory::None;
    bool internal_state = false;   // aggtranstype = internal
    bool has_final_fn = false;
    bool has_combine_fn = false;
    bool state_is_result = false;  // aggtranstype = the aggregate's result type
};

CombineKind classify(const AggFacts &f);

// Remote columns a kind needs (0 for Unsupported).
int remote_columns(CombineKind k);

}  // namespace rollup::core
