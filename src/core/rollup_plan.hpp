// The arithmetic of the native incremental rollup engine: which buckets a run recomputes, where the
// frontier goes, and what a committing writer records. Pure C++17; the engine (src/rollup/) does the
// locking, the catalog I/O and the SQL. docs/rollup-engine.md describes the engine as a whole.
//
// What the engine guarantees: after a completed run, for every bucket B in [lowest, F) (F = the
// rollup's frontier) and every distribution value v that still has raw rows in B, the target's rows
// for the cell (v, B) equal a from-scratch GROUP BY of those raw rows; buckets at or after F are not
// in the target (the real-time view computes them from the raw rows). How these pieces serve it:
//  * Bucketing: one fixed-width bucket, date_bin(stride, ts, origin) on PostgreSQL's TimestampTz
//    (int64 microseconds since 2000-01-01 UTC). date_trunc of second/minute/hour/day in a zone whose
//    offsets are multiples of the unit is date_bin with origin 2000-01-01 UTC (time_bucket.hpp).
//    Calendar units (month, year) are not fixed-width and are not handled here.
//  * Frontier F: a bucket boundary that only moves forward. Buckets below it are materialized; a run
//    materializes [F, new_F) with new_F = max(F, floor(now - holdback)). Since floor(now) is the start
//    of the bucket that contains `now`, the bucket in progress is never materialized by a run: rows
//    still arrive in it, and materializing it early would leave it to invalidations (the tutorial's
//    "lost minute" bug). A write below F, however late it commits, is recorded, never lost.
//  * Invalidations: a write that commits rows below F records, per shard index, the bucket ranges it
//    touched, [floor(min_ts), floor(max_ts) + stride), clipped below F. A write whose time span is
//    unknown records [first bucket, F). The writer decides at pre-commit with the F it reads under a
//    lock that the run's frontier advance conflicts with (the engine's job, not this file's).
//  * Range lists are kept canonical (sorted, disjoint, not adjacent) and capped: over the cap the
//    closest neighbours are merged (their gap filled), so coverage only ever grows: recomputing a
//    clean bucket costs time, missing a dirty one would be a wrong answer.
//  * Recompute plan of a run, per shard: (invalidated ranges in [lowest, F)) ∪ [F, new_F),
//    coalesced and capped. `lowest` is where recomputing stops being allowed (retention horizon,
//    explicit start): a bucket whose raw rows may be partly expired is never rewritten from them.
//  * Steps: a run over a big backlog is split into transactions of at most N buckets per shard
//    (plan_step): each step recomputes the oldest invalidations first, then advances the frontier,
//    and hands back the invalidations that stay recorded. The run fixes `now` once for all its steps,
//    so it ends even when a step is slower than a bucket.
//  * SQL helpers: a bucket range becomes `ts >= lo AND ts < hi` (where_bounds), used on the source's
//    time column and on the target's bucket column alike; the first bucket of the domain has no lower
//    bound and the last no upper bound, so rows at -infinity / +infinity (whose date_bin is the
//    infinity itself) are selected and deleted together with their neighbours.
// Must never: put a bucket at or after the step's new frontier into a plan, drop coverage when
// merging, recompute below `lowest`, or move the frontier backwards.
#pragma once
#include "core/core_only.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "core/time_bucket.hpp"

namespace rollup::core {

// PostgreSQL's finite timestamptz range [MIN_TIMESTAMP, END_TIMESTAMP). Values outside it (the
// infinities) are clamped into it before bucketing.
constexpr int64_t kMinTimestamp = -211813488000000000LL;
constexpr int64_t kEndTimestamp = 9223371331200000000LL;
// Widest bucket accepted (1000 years): keeps every bucket start representable.
constexpr int64_t kMaxStride = 1000LL * 366 * 86400 * 1000000;
// Default cap of ranges per shard (per writer transaction, per catalog list, per statement).
constexpr std::size_t kDefaultMaxRanges = 64;

// Half-open [lo, hi), microseconds. As a bucket range both ends are bucket boundaries, except that
// the end of the last bucket of the domain saturates at kNoEnd.
struct TimeRange {
    int64_t lo = 0;
    int64_t hi = 0;
    bool empty() const { return lo >= hi; }
    bool contains(int64_t t) const { return t >= lo && t < hi; }
    bool operator==(const TimeRange &o) const { return lo == o.lo && hi == o.hi; }
    bool operator!=(const TimeRange &o) const { return !(*this == o); }
};

// Canonical when sorted by lo, with no empty, overlapping or adjacent ranges.
using RangeList = std::vector<TimeRange>;

// date_bin(stride, ts, origin). Throws std::invalid_argument unless 0 < stride <= kMaxStride.
class Bucketing {
public:
    Bucketing(int64_t stride, int64_t origin);
    int64_t stride() const { return stride_; }
    int64_t origin() const { return origin_; }  // normalized into [0, stride): the same buckets
    int64_t start_of(int64_t ts) const;         // the bucket holding ts (clamped into the domain)
    int64_t end_of(int64_t start) const;        // start + stride, saturating at kNoEnd
    int64_t ceil(int64_t t) const;              // the first boundary >= t (first() for t <= domain start)
    int64_t first() const;                      // start of the domain's first bucket
    bool is_boundary(int64_t t) const;

private:
    int64_t stride_;
    int64_t origin_;
};

// The buckets holding timestamps min_ts..max_ts (inclusive): [floor(min_ts), floor(max_ts) + stride).
TimeRange touched_buckets(const Bucketing &b, int64_t min_ts, int64_t max_ts);
// A half-open timestamp range widened to whole buckets (empty stays empty).
TimeRange to_buckets(const Bucketing &b, TimeRange ts_range);

// Sorts and merges overlapping or adjacent ranges; drops empty ones.
RangeList coalesce(RangeList ranges);
// At most max_ranges (0 counts as 1) ranges covering at least `canonical`: fills the smallest gaps
// (ties: the earlier gap), which adds the fewest uncovered values.
RangeList cap_ranges(RangeList canonical, std::size_t max_ranges);
// Canonical inputs, canonical results.
RangeList clip(const RangeList &ranges, int64_t lo, int64_t hi);
RangeList unite(const RangeList &a, const RangeList &b);
RangeList subtract(const RangeList &a, const RangeList &b);
bool covers(const RangeList &ranges, int64_t t);

// Buckets in a bucket range (0 when empty); for a list, the sum.
uint64_t count_buckets(const Bucketing &b, TimeRange r);
uint64_t count_buckets(const Bucketing &b, const RangeList &ranges);
// Consecutive chunks of at most max_buckets buckets (0: no limit) whose union is r, in order.
RangeList split_range(const Bucketing &b, TimeRange r, uint64_t max_buckets);
// The first n buckets of a canonical list (oldest first) and the rest.
std::pair<RangeList, RangeList> take_buckets(const Bucketing &b, const RangeList &ranges, uint64_t n);

// `ts >= lower [AND] ts < upper` selecting a bucket range's rows, or ok = false for an empty range.
// No lower bound when the range starts at the domain's first bucket, no upper bound when it reaches
// kEndTimestamp.
Bound where_bounds(const Bucketing &b, TimeRange r);

// The frontier a run heads for: max(frontier, floor(now - holdback)), never past floor(now) unless
// the frontier already is. Throws std::invalid_argument for holdback < 0 or an unaligned frontier.
int64_t next_frontier(const Bucketing &b, int64_t frontier, int64_t now, int64_t holdback);

// ---- real-time views ----

// The bucket ranges a real-time view computes from the source rather than reading from the target:
// everything before the first run (no frontier); else the frontier and above, plus every recorded
// invalidation below it widened to whole buckets (their target rows are stale until the next run),
// plus `extra` (ranges a rollup's own source has yet to finalize, widened the same way). Canonical.
RangeList realtime_source_buckets(const Bucketing &b, std::optional<int64_t> frontier,
                                  const std::vector<TimeRange> &invalidated, const std::vector<TimeRange> &extra);

// ---- the write side ----

// The timestamps one statement touched on one shard: rows it wrote (old and new values of an
// UPDATE), a known bound of what it deleted or updated (add_range), or unknown (no time bound).
class WriteSpan {
public:
    void add(int64_t ts);
    void add_range(TimeRange ts_range);
    void set_unknown() { unknown_ = true; }
    bool empty() const { return !unknown_ && !any_; }
    // [min, max + 1) clamped into the domain; the whole domain when unknown; empty when nothing.
    TimeRange range() const;

private:
    bool unknown_ = false;
    bool any_ = false;
    int64_t min_ = 0;
    int64_t max_ = 0;
};

// What one transaction wrote to one source table, per shard index, as timestamp ranges (not
// buckets: one source may feed rollups of different strides). One add per statement and shard;
// each shard's list stays canonical and capped (O(cap) per add).
class WriteLog {
public:
    explicit WriteLog(std::size_t max_ranges_per_shard = kDefaultMaxRanges);
    void add(int shard_index, TimeRange ts_range);
    void add(int shard_index, const WriteSpan &span) { add(shard_index, span.range()); }
    const std::map<int, RangeList> &shards() const { return shards_; }
    bool empty() const { return shards_.empty(); }

private:
    std::size_t max_ranges_;
    std::map<int, RangeList> shards_;
};

// The invalidation ranges a committing writer records for one rollup, per shard index: its ranges
// widened to buckets, clipped below `frontier` (read at pre-commit under the frontier lock), capped.
// Nothing before the first run (frontier nullopt: that run reads everything) and nothing for shards
// whose rows are all at or above the frontier.
std::map<int, RangeList> invalidations_for(const Bucketing &b, std::optional<int64_t> frontier,
                                           const WriteLog &log,
                                           std::size_t max_ranges_per_shard = kDefaultMaxRanges);

// ---- the run side ----

struct Invalidation {  // one row of rollup.rollup_invalidation
    int shard_index = 0;
    TimeRange range;
};

struct RunRequest {
    int shard_count = 0;
    std::optional<int64_t> frontier;     // nullopt before the first run
    std::optional<int64_t> first_start;  // first run: explicit start, else the source's minimum
                                         // timestamp; nullopt when the source is empty
    int64_t now = 0;                     // fixed for all the steps of one run
    int64_t holdback = 0;                // >= 0
    int64_t lowest = kNoBegin;           // no bucket starting below ceil(lowest) is recomputed
    std::vector<Invalidation> invalidations;  // every recorded row of the rollup
    uint64_t max_buckets_per_shard = 0;       // per step; 0: the whole run in one step
    std::size_t max_ranges_per_shard = kDefaultMaxRanges;
};

struct RunStep {
    int64_t from_frontier = 0;
    int64_t to_frontier = 0;      // the frontier this step commits
    int64_t target_frontier = 0;  // where the run is heading
    std::vector<RangeList> recompute;  // per shard index: delete + re-insert these buckets
    std::vector<RangeList> remaining;  // per shard index: invalidations that stay recorded (they
                                       // replace every row the step read)
    bool done = false;                 // nothing remains and to_frontier == target_frontier
    // Buckets the busiest shard had to do when the step began (invalidations + new buckets). A run
    // whose first step saw B stops after ceil(B / max_buckets_per_shard) steps even if not done, so
    // writers that keep invalidating cannot keep one run going forever; the rest waits for the next.
    uint64_t backlog = 0;
    uint64_t bucket_count(const Bucketing &b) const;
};

// One step of a run. Throws std::invalid_argument for a shard index outside [0, shard_count), a bad
// shard count, an unaligned frontier or a negative holdback.
RunStep plan_step(const Bucketing &b, const RunRequest &req);

}  // namespace rollup::core
