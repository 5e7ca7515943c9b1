#include "core/rollup_plan.hpp"

#include <algorithm>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>

#include "core/shard_ranges.hpp"

namespace rollup::core {

namespace {

int64_t clamp_ts(int64_t ts) {
    if (ts < kMinTimestamp) return kMinTimestamp;
    if (ts >= kEndTimestamp) return kEndTimestamp - 1;
    return ts;
}

int64_t sat_add(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kNoEnd : kNoBegin;
    return r;
}

// lo + n * stride, saturating at kNoEnd.
int64_t advance(int64_t lo, uint64_t n, int64_t stride) {
    int64_t step;
    if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        __builtin_mul_overflow(static_cast<int64_t>(n), stride, &step))
        return kNoEnd;
    return sat_add(lo, step);
}

uint64_t gap(const TimeRange &a, const TimeRange &b) {  // b.lo - a.hi, with b after a
    return static_cast<uint64_t>(b.lo) - static_cast<uint64_t>(a.hi);
}

}  // namespace

// ---- Bucketing ----

Bucketing::Bucketing(int64_t stride, int64_t origin) {
    if (stride <= 0 || stride > kMaxStride)
        throw std::invalid_argument("bucket width must be between 1 microsecond and " +
                                    std::to_string(kMaxStride) + " microseconds, not " +
                                    std::to_string(stride));
    stride_ = stride;
    origin_ = origin - floor_to(origin, stride);
}

int64_t Bucketing::start_of(int64_t ts) const {
    // clamp_ts keeps ts - origin_ and the floor well inside int64 (stride <= kMaxStride).
    return floor_to(clamp_ts(ts) - origin_, stride_) + origin_;
}

int64_t Bucketing::end_of(int64_t start) const { return sat_add(start, stride_); }

int64_t Bucketing::first() const { return start_of(kMinTimestamp); }

int64_t Bucketing::ceil(int64_t t) const {
    if (t <= kMinTimestamp) return first();
    if (t >= kEndTimestamp) return end_of(start_of(kEndTimestamp - 1));
    const int64_t s = start_of(t);
    return s == t ? s : end_of(s);
}

bool Bucketing::is_boundary(int64_t t) const {
    return t >= kMinTimestamp && t < kEndTimestamp ? start_of(t) == t : t == ceil(t);
}

TimeRange touched_buckets(const Bucketing &b, int64_t min_ts, int64_t max_ts) {
    if (max_ts < min_ts) return {};
    return {b.start_of(min_ts), b.end_of(b.start_of(max_ts))};
}

TimeRange to_buckets(const Bucketing &b, TimeRange r) {
    if (r.empty()) return {};
    return touched_buckets(b, r.lo, r.hi - 1);
}

// ---- range lists ----

RangeList coalesce(RangeList ranges) {
    ranges.erase(std::remove_if(ranges.begin(), ranges.end(), [](const TimeRange &r) { return r.empty(); }),
                 ranges.end());
    std::sort(ranges.begin(), ranges.end(),
              [](const TimeRange &a, const TimeRange &b) { return a.lo < b.lo || (a.lo == b.lo && a.hi < b.hi); });
    RangeList out;
    for (const TimeRange &r : ranges) {
        if (!out.empty() && r.lo <= out.back().hi)
            out.back().hi = std::max(out.back().hi, r.hi);
        else
            out.push_back(r);
    }
    return out;
}

RangeList cap_ranges(RangeList canonical, std::size_t max_ranges) {
    if (max_ranges == 0) max_ranges = 1;
    const std::size_t n = canonical.size();
    if (n <= max_ranges) return canonical;
    // Filling a gap leaves the other gaps as they were, so filling the n - max smallest at once is
    // what merging the closest neighbours one pair at a time does.
    std::vector<std::size_t> order(n - 1);
    for (std::size_t i = 0; i + 1 < n; i++) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
        const uint64_t gx = gap(canonical[x], canonical[x + 1]), gy = gap(canonical[y], canonical[y + 1]);
        return gx < gy || (gx == gy && x < y);
    });
    std::vector<bool> fill(n - 1, false);
    for (std::size_t k = 0; k < n - max_ranges; k++) fill[order[k]] = true;
    RangeList out;
    out.push_back(canonical[0]);
    for (std::size_t i = 1; i < n; i++) {
        if (fill[i - 1])
            out.back().hi = canonical[i].hi;
        else
            out.push_back(canonical[i]);
    }
    return out;
}

RangeList clip(const RangeList &ranges, int64_t lo, int64_t hi) {
    RangeList out;
    for (const TimeRange &r : ranges) {
        TimeRange c{std::max(r.lo, lo), std::min(r.hi, hi)};
        if (!c.empty()) out.push_back(c);
    }
    return out;
}

RangeList unite(const RangeList &a, const RangeList &b) {
    RangeList all(a);
    all.insert(all.end(), b.begin(), b.end());
    return coalesce(std::move(all));
}

RangeList subtract(const RangeList &a, const RangeList &b) {
    RangeList out;
    std::size_t j = 0;
    for (const TimeRange &r : a) {
        int64_t lo = r.lo;
        while (j < b.size() && b[j].hi <= lo) j++;
        std::size_t k = j;
        while (lo < r.hi && k < b.size() && b[k].lo < r.hi) {
            if (b[k].lo > lo) out.push_back({lo, b[k].lo});
            lo = std::max(lo, b[k].hi);
            k++;
        }
        if (lo < r.hi) out.push_back({lo, r.hi});
    }
    return out;
}

bool covers(const RangeList &ranges, int64_t t) {
    auto it = std::upper_bound(ranges.begin(), ranges.end(), t,
                               [](int64_t v, const TimeRange &r) { return v < r.lo; });
    return it != ranges.begin() && std::prev(it)->contains(t);
}

// ---- counting and chunks ----

uint64_t count_buckets(const Bucketing &b, TimeRange r) {
    if (r.empty()) return 0;
    // The true difference is below 2^64 and the sum cannot wrap: |values| < 2^63, stride < 2^55.
    const uint64_t d = static_cast<uint64_t>(r.hi) - static_cast<uint64_t>(r.lo);
    const uint64_t s = static_cast<uint64_t>(b.stride());
    return (d + s - 1) / s;
}

uint64_t count_buckets(const Bucketing &b, const RangeList &ranges) {
    uint64_t n = 0;
    for (const TimeRange &r : ranges) n += count_buckets(b, r);
    return n;
}

RangeList split_range(const Bucketing &b, TimeRange r, uint64_t max_buckets) {
    RangeList out;
    if (r.empty()) return out;
    if (max_buckets == 0) return {r};
    int64_t lo = r.lo;
    while (lo < r.hi) {
        const int64_t hi = std::min(advance(lo, max_buckets, b.stride()), r.hi);
        out.push_back({lo, hi});
        lo = hi;
    }
    return out;
}

std::pair<RangeList, RangeList> take_buckets(const Bucketing &b, const RangeList &ranges, uint64_t n) {
    std::pair<RangeList, RangeList> out;
    for (const TimeRange &r : ranges) {
        const uint64_t c = count_buckets(b, r);
        if (n >= c) {
            if (c > 0) out.first.push_back(r);
            n -= c;
        } else if (n > 0) {
            const int64_t cut = advance(r.lo, n, b.stride());
            out.first.push_back({r.lo, cut});
            out.second.push_back({cut, r.hi});
            n = 0;
        } else {
            out.second.push_back(r);
        }
    }
    return out;
}

Bound where_bounds(const Bucketing &b, TimeRange r) {
    Bound out;
    if (r.empty()) return out;
    out.ok = true;
    if (r.lo > b.first()) out.has_lower = true, out.lower = r.lo;
    if (r.hi < kEndTimestamp) out.has_upper = true, out.upper = r.hi;
    return out;
}

int64_t next_frontier(const Bucketing &b, int64_t frontier, int64_t now, int64_t holdback) {
    if (holdback < 0) throw std::invalid_argument("rollup holdback must not be negative");
    if (!b.is_boundary(frontier))
        throw std::invalid_argument("rollup frontier " + std::to_string(frontier) + " is not a bucket boundary");
    // start_of(now - holdback) <= start_of(now): the bucket holding `now` stays out.
    return std::max(frontier, b.start_of(sat_add(clamp_ts(now), -holdback)));
}

// ---- real-time views ----

RangeList realtime_source_buckets(const Bucketing &b, std::optional<int64_t> frontier,
                                  const std::vector<TimeRange> &invalidated, const std::vector<TimeRange> &extra) {
    if (!frontier) return {TimeRange{kNoBegin, kNoEnd}};
    RangeList all{TimeRange{*frontier, kNoEnd}};
    for (const TimeRange &r : invalidated) all.push_back(to_buckets(b, r));
    for (const TimeRange &r : extra) all.push_back(to_buckets(b, r));
    RangeList out = coalesce(std::move(all));
    // The domain's first bucket holds -infinity too (clamped): open the list below.
    if (out.front().lo <= b.first()) out.front().lo = kNoBegin;
    return out;
}

// ---- write side ----

void WriteSpan::add(int64_t ts) {
    ts = clamp_ts(ts);
    if (!any_) {
        min_ = max_ = ts;
        any_ = true;
    } else {
        min_ = std::min(min_, ts);
        max_ = std::max(max_, ts);
    }
}

void WriteSpan::add_range(TimeRange r) {
    if (r.empty()) return;
    add(r.lo);
    add(r.hi - 1);
}

TimeRange WriteSpan::range() const {
    if (unknown_) return {kMinTimestamp, kEndTimestamp};
    if (!any_) return {};
    return {min_, max_ + 1};  // clamped on the way in, so max_ + 1 <= kEndTimestamp
}

WriteLog::WriteLog(std::size_t max_ranges_per_shard)
    : max_ranges_(max_ranges_per_shard == 0 ? 1 : max_ranges_per_shard) {}

void WriteLog::add(int shard_index, TimeRange r) {
    if (r.empty()) return;
    RangeList &l = shards_[shard_index];
    // Insert in order, merge with the neighbours it touches, then fill the smallest gap if over.
    auto it = std::lower_bound(l.begin(), l.end(), r, [](const TimeRange &a, const TimeRange &v) { return a.lo < v.lo; });
    std::size_t i = static_cast<std::size_t>(it - l.begin());
    if (i > 0 && l[i - 1].hi >= r.lo) {
        i--;
        l[i].hi = std::max(l[i].hi, r.hi);
    } else {
        l.insert(l.begin() + static_cast<std::ptrdiff_t>(i), r);
    }
    std::size_t j = i + 1;
    while (j < l.size() && l[j].lo <= l[i].hi) l[i].hi = std::max(l[i].hi, l[j++].hi);
    l.erase(l.begin() + static_cast<std::ptrdiff_t>(i + 1), l.begin() + static_cast<std::ptrdiff_t>(j));
    if (l.size() > max_ranges_) {
        std::size_t best = 0;
        for (std::size_t k = 1; k + 1 < l.size(); k++)
            if (gap(l[k], l[k + 1]) < gap(l[best], l[best + 1])) best = k;
        l[best].hi = l[best + 1].hi;
        l.erase(l.begin() + static_cast<std::ptrdiff_t>(best + 1));
    }
}

std::map<int, RangeList> invalidations_for(const Bucketing &b, std::optional<int64_t> frontier, const WriteLog &log,
                                           std::size_t max_ranges_per_shard) {
    std::map<int, RangeList> out;
    if (!frontier) return out;
    for (const auto &[shard, ranges] : log.shards()) {
        RangeList buckets;
        for (const TimeRange &r : ranges) buckets.push_back(to_buckets(b, r));
        RangeList below = cap_ranges(clip(coalesce(std::move(buckets)), kNoBegin, *frontier), max_ranges_per_shard);
        if (!below.empty()) out.emplace(shard, std::move(below));
    }
    return out;
}

// ---- run side ----

uint64_t RunStep::bucket_count(const Bucketing &b) const {
    uint64_t n = 0;
    for (const RangeList &l : recompute) n += count_buckets(b, l);
    return n;
}

RunStep plan_step(const Bucketing &b, const RunRequest &req) {
    if (req.shard_count < kMinShardCount || req.shard_count > kMaxShardCount)
        throw std::invalid_argument("rollup shard count " + std::to_string(req.shard_count) + " is out of range");
    if (req.holdback < 0) throw std::invalid_argument("rollup holdback must not be negative");

    // Where the frontier starts: the stored one; on a first run the source's first bucket, or
    // (empty source) wherever this run heads, since there is nothing to materialize.
    const int64_t heading = b.start_of(sat_add(clamp_ts(req.now), -req.holdback));
    int64_t from;
    if (req.frontier)
        from = *req.frontier;
    else if (req.first_start)
        from = b.start_of(*req.first_start);
    else
        from = heading;

    RunStep step;
    step.from_frontier = from;
    step.target_frontier = next_frontier(b, from, req.now, req.holdback);
    const int64_t low = b.ceil(req.lowest);

    std::vector<RangeList> invalid(static_cast<std::size_t>(req.shard_count));
    for (const Invalidation &inv : req.invalidations) {
        if (inv.shard_index < 0 || inv.shard_index >= req.shard_count)
            throw std::invalid_argument("rollup invalidation for shard index " + std::to_string(inv.shard_index) +
                                        " of a table with " + std::to_string(req.shard_count) + " shards");
        invalid[static_cast<std::size_t>(inv.shard_index)].push_back(to_buckets(b, inv.range));
    }

    // Oldest invalidations first, up to the budget per shard; what is left stays recorded.
    const uint64_t budget = req.max_buckets_per_shard;
    uint64_t taken_max = 0;
    step.recompute.resize(invalid.size());
    step.remaining.resize(invalid.size());
    for (std::size_t s = 0; s < invalid.size(); s++) {
        // Parts at or above `from` need no record (those buckets are not materialized); parts below
        // `low` are never recomputed.
        RangeList l = cap_ranges(clip(coalesce(std::move(invalid[s])), low, from), req.max_ranges_per_shard);
        step.backlog = std::max(step.backlog, count_buckets(b, l));
        if (budget == 0) {
            step.recompute[s] = std::move(l);
        } else {
            auto [taken, rest] = take_buckets(b, l, budget);
            taken_max = std::max(taken_max, count_buckets(b, taken));
            step.recompute[s] = std::move(taken);
            step.remaining[s] = std::move(rest);
        }
    }

    // Then the frontier, by what the busiest shard left of the budget. Buckets in [from, low) are
    // skipped, not materialized: they are below what may be recomputed.
    const int64_t window_lo = std::min(std::max(from, low), step.target_frontier);
    step.to_frontier =
        budget == 0 ? step.target_frontier
                    : std::min(step.target_frontier, advance(window_lo, budget - taken_max, b.stride()));
    step.backlog += count_buckets(b, TimeRange{window_lo, step.target_frontier});
    const RangeList window = {TimeRange{window_lo, step.to_frontier}};
    bool any_left = false;
    for (std::size_t s = 0; s < invalid.size(); s++) {
        step.recompute[s] = cap_ranges(unite(step.recompute[s], window), req.max_ranges_per_shard);
        any_left = any_left || !step.remaining[s].empty();
    }
    step.done = !any_left && step.to_frontier == step.target_frontier;
    return step;
}

}  // namespace rollup::core
