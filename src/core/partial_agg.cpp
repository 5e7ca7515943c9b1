#include "core/partial_agg.hpp"

namespace rollup::core {

CombineKind classify(const AggFacts &f) {
    if (!f.builtin || !f.plain_kind || f.has_distinct || f.has_order_by || f.variadic)
        return CombineKind::Unsupported;
    if (f.family == AggFamily::Avg) {
        switch (f.arg) {
            case ArgCategory::SmallInt:
            case ArgCategory::BigInt:
            case ArgCategory::Numeric: return CombineKind::AvgNumeric;
            case ArgCategory::Float: return CombineKind::AvgFloat;
            default: return CombineKind::Unsupported;  // avg(interval): final fn divides an interval
        }
    }
    if (f.family == AggFamily::Sum && (f.arg == ArgCategory::BigInt || f.arg == ArgCategory::Numeric))
        return CombineKind::NumericSum;
    if (f.state_is_result && !f.internal_state && !f.has_final_fn && f.has_combine_fn)
        return CombineKind::SameState;
    return CombineKind::Unsupported;
}

int remote_columns(CombineKind k) {
    switch (k) {
        case CombineKind::SameState:
        case CombineKind::NumericSum: return 1;
        case CombineKind::AvgNumeric:
        case CombineKind::AvgFloat: return 2;
        default: return 0;
    }
}

}  // namespace rollup::core
