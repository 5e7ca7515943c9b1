#include "core/time_bucket.hpp"

#include <cstddef>

namespace rollup::core {

int64_t floor_to(int64_t v, int64_t unit) {
    int64_t r = v % unit;
    if (r < 0) r += unit;
    return v - r;
}

int64_t ceil_to(int64_t v, int64_t unit) {
    int64_t f = floor_to(v, unit);
    return f == v ? v : f + unit;
}

Bound bound_for(CmpOp op, int64_t c, int64_t unit, int64_t t0, int64_t min_valid, int64_t max_valid) {
    Bound b;
    if (unit <= 0 || c == kNoBegin || c == kNoEnd || c < min_valid || c >= max_valid) return b;
    if (t0 == kNoEnd || c < t0) return b;
    const int64_t lo = floor_to(c, unit);
    if (lo >= max_valid - unit) return b;  // lo + unit would not be a valid timestamp
    const int64_t next = lo + unit;       // the first bucket boundary after c
    const int64_t up = ceil_to(c, unit);  // the first bucket boundary at or after c
    switch (op) {
        case CmpOp::Gt:  // trunc(x) > c  <=>  trunc(x) >= next
            b.has_lower = true, b.lower = next;
            break;
        case CmpOp::Ge:
            b.has_lower = true, b.lower = up;
            break;
        case CmpOp::Lt:
            b.has_upper = true, b.upper = up;
            break;
        case CmpOp::Le:  // trunc(x) <= c  <=>  trunc(x) < next
            b.has_upper = true, b.upper = next;
            break;
        case CmpOp::Eq:
            b.has_lower = true, b.lower = up;
            b.has_upper = true, b.upper = next;
            break;
    }
    // Bounds are in [c, next], and next < max_valid was checked above.
    b.ok = true;
    return b;
}

int64_t aligned_since(const OffsetHistory &h, int64_t unit_seconds, bool from_beginning) {
    if (!h.complete || h.offsets.empty() || h.starts.size() != h.offsets.size() || unit_seconds <= 0) return kNoEnd;
    // Walk back from the last segment while offsets stay multiples of the unit.
    std::size_t i = h.offsets.size();
    while (i > 0 && h.offsets[i - 1] % unit_seconds == 0) i--;
    if (i == h.offsets.size()) return kNoEnd;  // the offset that holds forever is not aligned
    if (i == 0) return from_beginning ? kNoBegin : h.starts[0];
    return h.starts[i];
}

}  // namespace rollup::core
