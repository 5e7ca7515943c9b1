// The rollup engine's arithmetic: bucketing, range lists, frontier, write records and run plans.
// The last test is a model check: random writes (below, across and above the frontier) and runs in
// steps, against raw rows, a simulated target and a naive set of dirty buckets per shard.
#include "core/rollup_plan.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <vector>

using namespace rollup::core;

namespace {

constexpr int64_t kSec = 1000000;
constexpr int64_t kMinute = 60 * kSec;

// Brute force over a small universe of integers: the set of covered values.
std::set<int64_t> points(const RangeList &l, int64_t lo, int64_t hi) {
    std::set<int64_t> out;
    for (int64_t t = lo; t < hi; t++)
        if (covers(l, t)) out.insert(t);
    return out;
}

bool canonical(const RangeList &l) {
    for (std::size_t i = 0; i < l.size(); i++) {
        if (l[i].empty()) return false;
        if (i > 0 && l[i].lo <= l[i - 1].hi) return false;
    }
    return true;
}

RangeList random_list(std::mt19937_64 &rng, int n, int64_t lo, int64_t hi) {
    std::uniform_int_distribution<int64_t> pos(lo, hi), len(0, 6);
    RangeList l;
    for (int i = 0; i < n; i++) {
        int64_t a = pos(rng);
        l.push_back({a, a + len(rng)});
    }
    return l;
}

// For the model check's hot loops: a Catch2 CHECK costs far more than the check itself, so a passing
// check registers nothing; a failing one reports its text and location.
#define EXPECT(cond)                                                           \
    do {                                                                       \
        if (!(cond)) FAIL_CHECK(#cond << " at line " << __LINE__);             \
    } while (false)

}  // namespace

TEST_CASE("bucketing is date_bin: floor from the origin, negative values included", "[rollup_plan]") {
    Bucketing b(10, 3);
    CHECK(b.start_of(3) == 3);
    CHECK(b.start_of(12) == 3);
    CHECK(b.start_of(13) == 13);
    CHECK(b.start_of(2) == -7);
    CHECK(b.start_of(-7) == -7);
    CHECK(b.start_of(-8) == -17);
    CHECK(b.end_of(3) == 13);
    CHECK(b.ceil(3) == 3);
    CHECK(b.ceil(4) == 13);
    CHECK(b.is_boundary(-17));
    CHECK_FALSE(b.is_boundary(0));
    // An origin anywhere on the same grid gives the same buckets.
    Bucketing b2(10, 3 + 10 * 1000), b3(10, 3 - 10 * 1000);
    CHECK(b2.origin() == 3);
    CHECK(b3.origin() == 3);
    for (int64_t t = -50; t < 50; t++) CHECK(b2.start_of(t) == b.start_of(t));

    // date_trunc('minute', ts) in UTC: date_bin with origin 2000-01-01 00:00 UTC (0).
    Bucketing minute(kMinute, 0);
    CHECK(minute.start_of(5 * kMinute + 59 * kSec) == 5 * kMinute);
    CHECK(minute.start_of(-1) == -kMinute);

    CHECK_THROWS_AS(Bucketing(0, 0), std::invalid_argument);
    CHECK_THROWS_AS(Bucketing(-5, 0), std::invalid_argument);
    CHECK_THROWS_AS(Bucketing(kMaxStride + 1, 0), std::invalid_argument);
}

TEST_CASE("infinities are clamped into the domain and the last bucket's end saturates", "[rollup_plan]") {
    for (int64_t stride : {int64_t(1), kMinute, 7 * 86400 * kSec, 30 * 86400 * kSec, kMaxStride}) {
        Bucketing b(stride, 12345);
        CHECK(b.start_of(kNoBegin) == b.first());
        CHECK(b.first() <= kMinTimestamp);
        CHECK(b.first() > kMinTimestamp - stride);
        const int64_t last = b.start_of(kNoEnd);
        CHECK(last == b.start_of(kEndTimestamp - 1));
        CHECK(b.end_of(last) >= kEndTimestamp);  // kNoEnd when start + stride overflows
        CHECK(b.ceil(kNoBegin) == b.first());
        // Counting and splitting over the whole domain stay exact and do not wrap.
        TimeRange all{b.first(), b.end_of(last)};
        const uint64_t n = count_buckets(b, all);
        CHECK(n == (static_cast<uint64_t>(last) - static_cast<uint64_t>(b.first())) / stride + 1);
        if (n < 100) {
            RangeList chunks = split_range(b, all, 1);
            CHECK(chunks.size() == n);
            CHECK(chunks.back().hi == all.hi);
        }
        // A write at -infinity and one at +infinity.
        CHECK(touched_buckets(b, kNoBegin, kNoBegin) == TimeRange{b.first(), b.end_of(b.first())});
        CHECK(touched_buckets(b, kNoEnd, kNoEnd) == TimeRange{last, b.end_of(last)});
    }
    Bucketing month30(30 * 86400 * kSec, 0);
    CHECK(month30.end_of(month30.start_of(kNoEnd)) == kNoEnd);
}

TEST_CASE("a write touches the buckets from floor(min) up to floor(max) + stride", "[rollup_plan]") {
    Bucketing b(kMinute, 0);
    CHECK(touched_buckets(b, 61 * kSec, 61 * kSec) == TimeRange{kMinute, 2 * kMinute});
    CHECK(touched_buckets(b, 59 * kSec, 121 * kSec) == TimeRange{0, 3 * kMinute});
    CHECK(touched_buckets(b, 120 * kSec, 120 * kSec) == TimeRange{2 * kMinute, 3 * kMinute});
    CHECK(touched_buckets(b, 5, 4).empty());
    // A half-open bound [lo, hi): hi itself is not touched.
    CHECK(to_buckets(b, {0, 2 * kMinute}) == TimeRange{0, 2 * kMinute});
    CHECK(to_buckets(b, {0, 2 * kMinute + 1}) == TimeRange{0, 3 * kMinute});
    CHECK(to_buckets(b, {7, 7}).empty());
}

TEST_CASE("coalesce merges overlapping and adjacent ranges and drops empty ones", "[rollup_plan]") {
    CHECK(coalesce({}).empty());
    CHECK(coalesce({{5, 5}, {9, 3}}).empty());
    CHECK(coalesce({{10, 20}, {0, 5}, {5, 7}, {15, 30}, {31, 32}}) ==
          RangeList{{0, 7}, {10, 30}, {31, 32}});
    CHECK(coalesce({{0, 100}, {10, 20}}) == RangeList{{0, 100}});

    std::mt19937_64 rng(7);
    for (int iter = 0; iter < 300; iter++) {
        RangeList in = random_list(rng, iter % 12, 0, 60);
        RangeList out = coalesce(in);
        CHECK(canonical(out));
        std::set<int64_t> want;
        for (const TimeRange &r : in)
            for (int64_t t = r.lo; t < r.hi; t++) want.insert(t);
        CHECK(points(out, -5, 80) == want);
    }
}

TEST_CASE("capping fills the smallest gaps and never loses coverage", "[rollup_plan]") {
    CHECK(cap_ranges({{0, 1}, {3, 4}, {10, 11}, {12, 13}}, 2) == RangeList{{0, 4}, {10, 13}});
    CHECK(cap_ranges({{0, 1}, {3, 4}}, 0) == RangeList{{0, 4}});
    CHECK(cap_ranges({{0, 1}, {3, 4}}, 5) == RangeList{{0, 1}, {3, 4}});
    // Ties: the earlier gap goes first.
    CHECK(cap_ranges({{0, 1}, {2, 3}, {4, 5}}, 2) == RangeList{{0, 3}, {4, 5}});

    std::mt19937_64 rng(11);
    for (int iter = 0; iter < 500; iter++) {
        RangeList in = coalesce(random_list(rng, 1 + iter % 15, 0, 100));
        const std::size_t cap = 1 + iter % 6;
        RangeList out = cap_ranges(in, cap);
        CHECK(canonical(out));
        CHECK(out.size() <= cap);
        std::set<int64_t> before = points(in, -5, 120), after = points(out, -5, 120);
        CHECK(std::includes(after.begin(), after.end(), before.begin(), before.end()));
        // Optimal: the extra coverage is the sum of the smallest gaps that had to be filled.
        std::vector<int64_t> gaps;
        for (std::size_t i = 0; i + 1 < in.size(); i++) gaps.push_back(in[i + 1].lo - in[i].hi);
        std::sort(gaps.begin(), gaps.end());
        int64_t extra = 0;
        for (std::size_t k = 0; in.size() > cap && k < in.size() - cap; k++) extra += gaps[k];
        CHECK(static_cast<int64_t>(after.size() - before.size()) == extra);
    }
}

TEST_CASE("clip, unite and subtract agree with sets", "[rollup_plan]") {
    std::mt19937_64 rng(13);
    for (int iter = 0; iter < 300; iter++) {
        RangeList a = coalesce(random_list(rng, iter % 8, 0, 60));
        RangeList c = coalesce(random_list(rng, (iter / 8) % 8, 0, 60));
        const auto pa = points(a, -5, 80), pc = points(c, -5, 80);
        std::set<int64_t> u, d, k;
        std::set_union(pa.begin(), pa.end(), pc.begin(), pc.end(), std::inserter(u, u.end()));
        std::set_difference(pa.begin(), pa.end(), pc.begin(), pc.end(), std::inserter(d, d.end()));
        for (int64_t t : pa)
            if (t >= 10 && t < 40) k.insert(t);
        RangeList ru = unite(a, c), rd = subtract(a, c), rk = clip(a, 10, 40);
        CHECK(canonical(ru));
        CHECK(canonical(rd));
        CHECK(canonical(rk));
        CHECK(points(ru, -5, 80) == u);
        CHECK(points(rd, -5, 80) == d);
        CHECK(points(rk, -5, 80) == k);
    }
}

TEST_CASE("counting buckets, splitting into chunks, taking the oldest buckets", "[rollup_plan]") {
    Bucketing b(10, 0);
    CHECK(count_buckets(b, TimeRange{0, 0}) == 0);
    CHECK(count_buckets(b, TimeRange{0, 10}) == 1);
    CHECK(count_buckets(b, TimeRange{-30, 20}) == 5);
    CHECK(count_buckets(b, RangeList{{0, 10}, {30, 60}}) == 4);

    CHECK(split_range(b, {0, 70}, 3) == RangeList{{0, 30}, {30, 60}, {60, 70}});
    CHECK(split_range(b, {0, 60}, 3) == RangeList{{0, 30}, {30, 60}});
    CHECK(split_range(b, {0, 60}, 0) == RangeList{{0, 60}});
    CHECK(split_range(b, {0, 0}, 3).empty());
    for (uint64_t n = 1; n < 9; n++) {
        RangeList chunks = split_range(b, {-40, 110}, n);
        int64_t at = -40;
        for (const TimeRange &c : chunks) {
            CHECK(c.lo == at);
            CHECK(count_buckets(b, c) <= n);
            CHECK(b.is_boundary(c.hi));
            at = c.hi;
        }
        CHECK(at == 110);
        CHECK(chunks.size() == (15 + n - 1) / n);
    }

    auto [taken, rest] = take_buckets(b, {{0, 20}, {40, 70}, {90, 100}}, 3);
    CHECK(taken == RangeList{{0, 20}, {40, 50}});
    CHECK(rest == RangeList{{50, 70}, {90, 100}});
    auto [all, none] = take_buckets(b, {{0, 20}}, 9);
    CHECK(all == RangeList{{0, 20}});
    CHECK(none.empty());
}

TEST_CASE("WHERE bounds of a bucket range", "[rollup_plan]") {
    Bucketing b(kMinute, 0);
    Bound w = where_bounds(b, {kMinute, 3 * kMinute});
    CHECK(w.ok);
    CHECK(w.has_lower);
    CHECK(w.lower == kMinute);
    CHECK(w.has_upper);
    CHECK(w.upper == 3 * kMinute);
    CHECK_FALSE(where_bounds(b, {kMinute, kMinute}).ok);
    // From the domain's first bucket: no lower bound, so rows at -infinity are included (and their
    // target cell, whose bucket is -infinity, is deleted by the same bounds).
    Bound first = where_bounds(b, {b.first(), 10 * kMinute});
    CHECK(first.ok);
    CHECK_FALSE(first.has_lower);
    CHECK(first.has_upper);
    // To the domain's end: no upper bound (+infinity).
    const int64_t last = b.start_of(kNoEnd);
    Bound end = where_bounds(b, {last, b.end_of(last)});
    CHECK(end.has_lower);
    CHECK_FALSE(end.has_upper);
    // The bounds select exactly the rows whose bucket is in the range.
    Bucketing small(10, 3);
    for (int64_t lo = -27; lo <= 23; lo += 10) {
        for (int64_t hi = lo; hi <= 33; hi += 10) {
            Bound bd = where_bounds(small, {lo, hi});
            for (int64_t ts = -40; ts < 40; ts++) {
                const bool in = bd.ok && (!bd.has_lower || ts >= bd.lower) && (!bd.has_upper || ts < bd.upper);
                const int64_t bucket = small.start_of(ts);
                CHECK(in == (bucket >= lo && bucket < hi));
            }
        }
    }
}

TEST_CASE("the frontier holds back the bucket in progress and never moves backwards", "[rollup_plan]") {
    Bucketing b(kMinute, 0);
    const int64_t m10 = 10 * kMinute;
    // A run at second :00 of minute 10 materializes minute 9, not minute 10 (which just began): the
    // tutorial's window would have taken minute 10 and then skipped the rest of it forever.
    CHECK(next_frontier(b, 5 * kMinute, m10, 0) == m10);
    CHECK(next_frontier(b, 5 * kMinute, m10 + 59 * kSec, 0) == m10);
    CHECK(next_frontier(b, 5 * kMinute, m10 + 3 * kSec, 5 * kSec) == m10 - kMinute);
    CHECK(next_frontier(b, 5 * kMinute, m10 + 3 * kSec, 2 * kSec) == m10);
    // The clock went back, or the holdback grew: the frontier stays.
    CHECK(next_frontier(b, m10, 7 * kMinute, 0) == m10);
    CHECK(next_frontier(b, m10, m10 + 30 * kSec, 5 * kMinute) == m10);
    CHECK_THROWS_AS(next_frontier(b, m10, m10, -1), std::invalid_argument);
    CHECK_THROWS_AS(next_frontier(b, m10 + 1, m10, 0), std::invalid_argument);
}

TEST_CASE("a writer records only what it wrote below the frontier", "[rollup_plan]") {
    Bucketing b(10, 0);
    WriteLog log;
    WriteSpan s1;
    s1.add(42);
    s1.add(17);
    log.add(0, s1);  // [17, 43) -> buckets [10, 50)
    WriteSpan s2;
    s2.add(95);
    log.add(1, s2);  // at or above any frontier <= 90: nothing for shard 1
    WriteSpan s3;
    s3.add_range({20, 30});  // e.g. DELETE ... WHERE ts >= 20 AND ts < 30
    log.add(2, s3);
    WriteSpan unknown;  // an UPDATE with no time bound
    unknown.set_unknown();
    log.add(3, unknown);
    WriteSpan nothing;
    log.add(4, nothing);
    CHECK(nothing.empty());

    // No frontier: the first run reads everything, nothing to record.
    CHECK(invalidations_for(b, std::nullopt, log).empty());

    auto inv = invalidations_for(b, 40, log);
    CHECK(inv.size() == 3);
    CHECK(inv[0] == RangeList{{10, 40}});
    CHECK(inv[2] == RangeList{{20, 30}});
    CHECK(inv[3] == RangeList{{b.first(), 40}});
    CHECK(inv.count(1) == 0);
    CHECK(inv.count(4) == 0);
    // Below the whole write: nothing to record for shard 0.
    CHECK(invalidations_for(b, 10, log).count(0) == 0);
}

TEST_CASE("a writer's log stays canonical and capped without losing coverage", "[rollup_plan]") {
    std::mt19937_64 rng(17);
    for (int iter = 0; iter < 200; iter++) {
        const std::size_t cap = 1 + iter % 5;
        WriteLog log(cap);
        std::set<int64_t> want;
        std::uniform_int_distribution<int64_t> pos(0, 200), len(1, 5);
        for (int k = 0; k < 30; k++) {
            int64_t a = pos(rng), l = len(rng);
            log.add(0, TimeRange{a, a + l});
            for (int64_t t = a; t < a + l; t++) want.insert(t);
            const RangeList &got = log.shards().at(0);
            CHECK(canonical(got));
            CHECK(got.size() <= cap);
        }
        const auto have = points(log.shards().at(0), -5, 220);
        CHECK(std::includes(have.begin(), have.end(), want.begin(), want.end()));
    }
}

TEST_CASE("plans: first run, empty source, invalidations, lowest, bad input", "[rollup_plan]") {
    Bucketing b(10, 0);
    SECTION("first run from the source's minimum timestamp") {
        RunRequest r;
        r.shard_count = 2;
        r.first_start = 23;
        r.now = 105;  // bucket [100, 110) is in progress
        RunStep s = plan_step(b, r);
        CHECK(s.from_frontier == 20);
        CHECK(s.to_frontier == 100);
        CHECK(s.done);
        CHECK(s.recompute[0] == RangeList{{20, 100}});
        CHECK(s.recompute[1] == RangeList{{20, 100}});
        CHECK(s.bucket_count(b) == 16);
    }
    SECTION("first run over an empty source: nothing to do, the frontier starts at now") {
        RunRequest r;
        r.shard_count = 2;
        r.now = 105;
        RunStep s = plan_step(b, r);
        CHECK(s.to_frontier == 100);
        CHECK(s.recompute[0].empty());
        CHECK(s.done);
    }
    SECTION("invalidations below the frontier plus the new buckets, coalesced") {
        RunRequest r;
        r.shard_count = 3;
        r.frontier = 60;
        r.now = 95;
        r.holdback = 10;  // heads for floor(85) = 80
        r.invalidations = {{0, {10, 20}}, {0, {15, 30}}, {0, {50, 60}}, {2, {55, 57}}, {2, {90, 100}}};
        RunStep s = plan_step(b, r);
        CHECK(s.to_frontier == 80);
        CHECK(s.recompute[0] == RangeList{{10, 30}, {50, 80}});
        CHECK(s.recompute[1] == RangeList{{60, 80}});
        CHECK(s.recompute[2] == RangeList{{50, 80}});  // {90, 100} is not materialized: no record needed
        CHECK(s.done);
    }
    SECTION("an unknown write recomputes everything below the frontier, down to lowest") {
        RunRequest r;
        r.shard_count = 1;
        r.frontier = 60;
        r.now = 65;
        r.invalidations = {{0, {b.first(), 60}}};
        CHECK(plan_step(b, r).recompute[0] == RangeList{{b.first(), 60}});
        r.lowest = 25;  // retention horizon: buckets from ceil(25) = 30 only
        CHECK(plan_step(b, r).recompute[0] == RangeList{{30, 60}});
    }
    SECTION("steps of at most N buckets per shard: invalidations first, then the frontier") {
        RunRequest r;
        r.shard_count = 2;
        r.frontier = 100;
        r.now = 200;
        r.max_buckets_per_shard = 4;
        r.invalidations = {{0, {0, 30}}, {0, {50, 60}}, {1, {90, 100}}};
        RunStep s = plan_step(b, r);
        CHECK(s.recompute[0] == RangeList{{0, 30}, {50, 60}});
        CHECK(s.recompute[1] == RangeList{{90, 100}});
        CHECK(s.to_frontier == 100);  // shard 0 used the whole budget
        CHECK_FALSE(s.done);
        r.invalidations.clear();
        r.max_buckets_per_shard = 6;
        r.invalidations = {{1, {90, 100}}};
        s = plan_step(b, r);
        CHECK(s.to_frontier == 150);
        CHECK(s.recompute[0] == RangeList{{100, 150}});
        CHECK(s.recompute[1] == RangeList{{90, 150}});
        CHECK_FALSE(s.done);
        r.max_buckets_per_shard = 3;
        r.invalidations = {{0, {0, 50}}};
        s = plan_step(b, r);
        CHECK(s.recompute[0] == RangeList{{0, 30}});
        CHECK(s.remaining[0] == RangeList{{30, 50}});
        CHECK(s.to_frontier == 100);
    }
    SECTION("bad input") {
        RunRequest r;
        r.shard_count = 2;
        r.frontier = 60;
        r.now = 100;
        r.invalidations = {{2, {0, 10}}};
        CHECK_THROWS_AS(plan_step(b, r), std::invalid_argument);
        r.invalidations = {{-1, {0, 10}}};
        CHECK_THROWS_AS(plan_step(b, r), std::invalid_argument);
        r.invalidations.clear();
        r.frontier = 61;
        CHECK_THROWS_AS(plan_step(b, r), std::invalid_argument);
        r.frontier = 60;
        r.holdback = -1;
        CHECK_THROWS_AS(plan_step(b, r), std::invalid_argument);
        r.holdback = 0;
        r.shard_count = 0;
        CHECK_THROWS_AS(plan_step(b, r), std::invalid_argument);
    }
}

TEST_CASE("without capping, the plan below the frontier is exactly the dirty buckets", "[rollup_plan]") {
    Bucketing b(10, 3);
    std::mt19937_64 rng(19);
    for (int iter = 0; iter < 200; iter++) {
        const int64_t frontier = 503;
        std::vector<std::set<int64_t>> dirty(3);
        RunRequest r;
        r.shard_count = 3;
        r.frontier = frontier;
        r.now = 530;
        std::uniform_int_distribution<int64_t> ts(-100, 600);
        std::uniform_int_distribution<int> shard(0, 2);
        for (int k = 0; k < 20; k++) {  // single-row statements, one transaction each
            WriteLog log;
            WriteSpan sp;
            const int64_t t = ts(rng);
            const int s = shard(rng);
            sp.add(t);
            log.add(s, sp);
            if (b.start_of(t) < frontier) dirty[s].insert(b.start_of(t));
            for (auto &[sh, ranges] : invalidations_for(b, r.frontier, log))
                for (const TimeRange &x : ranges) r.invalidations.push_back({sh, x});
        }
        RunStep st = plan_step(b, r);
        for (int s = 0; s < 3; s++) {
            std::set<int64_t> got;
            for (const TimeRange &x : clip(st.recompute[s], kNoBegin, frontier))
                for (int64_t t = x.lo; t < x.hi; t += 10) got.insert(t);
            CHECK(got == dirty[s]);
        }
    }
}

namespace {

// The model: raw rows per shard, the target (a row count per materialized bucket, standing for one
// cell per shard), the catalog's invalidation rows, the frontier and the retention horizon.
struct Model {
    static constexpr int kShards = 4;
    Bucketing b{10, 3};
    std::vector<std::vector<int64_t>> raw = std::vector<std::vector<int64_t>>(kShards);
    std::vector<std::map<int64_t, int64_t>> target = std::vector<std::map<int64_t, int64_t>>(kShards);
    std::vector<Invalidation> catalog;
    std::optional<int64_t> frontier;
    int64_t lowest = 3;  // explicit start of the rollup; retention moves it up
    int64_t clock = 0;
    // Naive: every bucket below the frontier that a committed write touched, not yet recomputed.
    std::vector<std::set<int64_t>> dirty = std::vector<std::set<int64_t>>(kShards);

    // Raw rows per bucket of one shard: what a from-scratch GROUP BY gives.
    std::map<int64_t, int64_t> fresh(int s) const {
        std::map<int64_t, int64_t> out;
        for (int64_t t : raw[s]) out[b.start_of(t)]++;
        return out;
    }
};

void touch(Model &m, int s, int64_t ts) {
    if (m.frontier && m.b.start_of(ts) < *m.frontier) m.dirty[s].insert(m.b.start_of(ts));
}

// One writer transaction of a few statements.
void random_write(Model &m, std::mt19937_64 &rng) {
    std::uniform_int_distribution<int64_t> ts(-50, m.clock + 30);
    std::uniform_int_distribution<int> shard(0, Model::kShards - 1), kind(0, 19), count(1, 4);
    WriteLog log(1 + rng() % 6);  // small caps: merging must never drop coverage
    const int statements = count(rng) * (rng() % 4 == 0 ? 5 : 1);  // sometimes a long transaction
    for (int k = 0; k < statements; k++) {
        const int s = shard(rng);
        WriteSpan sp;
        const int what = kind(rng);
        if (what < 12) {  // INSERT / COPY of a few rows, close in time or (sometimes) far apart
            const int64_t center = ts(rng);
            const bool spread = rng() % 4 == 0;
            for (int i = count(rng); i > 0; i--) {
                const int64_t t = spread ? ts(rng) : center + static_cast<int64_t>(rng() % 15);
                m.raw[s].push_back(t);
                sp.add(t);
                touch(m, s, t);
            }
        } else if (what < 15) {  // DELETE ... WHERE ts >= a AND ts < a + len
            const int64_t a = ts(rng), len = 1 + static_cast<int64_t>(rng() % 25);
            sp.add_range({a, a + len});
            auto &rows = m.raw[s];
            for (int64_t t : rows)
                if (t >= a && t < a + len) touch(m, s, t);
            rows.erase(std::remove_if(rows.begin(), rows.end(), [&](int64_t t) { return t >= a && t < a + len; }),
                       rows.end());
        } else if (what < 19) {  // UPDATE of one row's time (old and new values are known)
            if (m.raw[s].empty()) continue;
            int64_t &row = m.raw[s][rng() % m.raw[s].size()];
            touch(m, s, row);
            sp.add(row);
            row = ts(rng);
            touch(m, s, row);
            sp.add(row);
        } else {  // UPDATE with no time bound: some rows move, the span is unknown
            sp.set_unknown();
            for (int64_t &row : m.raw[s]) {
                if (rng() % 3 != 0) continue;
                touch(m, s, row);
                row = ts(rng);
                touch(m, s, row);
            }
        }
        log.add(s, sp);
    }
    // Pre-commit: the frontier read under the share lock decides.
    for (auto &[s, ranges] : invalidations_for(m.b, m.frontier, log, 1 + rng() % 8))
        for (const TimeRange &r : ranges) m.catalog.push_back({s, r});
}

// Buckets of a list, restricted to the model's universe (raw rows are >= -50).
std::set<int64_t> buckets_of(const Model &m, const RangeList &l, int64_t up_to) {
    std::set<int64_t> out;
    for (int64_t t = m.b.start_of(-50); t < up_to; t += m.b.stride())
        if (covers(l, t)) out.insert(t);
    return out;
}

// Target exact for every bucket in [ceil(lowest), F) that has raw rows, unless the catalog still
// lists the bucket for that shard (then the next run fixes it). No bucket at or after F is there.
void check_invariant(const Model &m) {
    if (!m.frontier) return;
    const int64_t low = m.b.ceil(m.lowest);
    for (int s = 0; s < Model::kShards; s++) {
        RangeList pending;
        for (const Invalidation &inv : m.catalog)
            if (inv.shard_index == s) pending.push_back(to_buckets(m.b, inv.range));
        pending = coalesce(pending);
        for (const auto &[bucket, n] : m.target[s]) EXPECT(bucket < *m.frontier);
        for (const auto &[bucket, want] : m.fresh(s)) {
            if (bucket < low || bucket >= *m.frontier || covers(pending, bucket)) continue;
            auto it = m.target[s].find(bucket);
            if (it == m.target[s].end() || it->second != want)
                FAIL_CHECK("shard " << s << " bucket " << bucket << " frontier " << *m.frontier << ": target "
                                    << (it == m.target[s].end() ? -1 : it->second) << ", raw rows " << want);
        }
    }
}

// A real-time view at this moment: buckets in realtime_source_buckets come from the raw rows, the
// rest from the target. It must equal a from-scratch GROUP BY for every bucket that has raw rows
// (a bucket whose raw rows are all gone keeps its materialized row, as the target does), including
// before the first run and with invalidations pending.
void check_view(const Model &m) {
    std::vector<TimeRange> recorded;
    for (const Invalidation &inv : m.catalog) recorded.push_back(inv.range);
    const RangeList from_raw = realtime_source_buckets(m.b, m.frontier, recorded, {});
    const int64_t low = m.frontier ? m.b.ceil(m.lowest) : kNoBegin;
    for (int s = 0; s < Model::kShards; s++) {
        const auto fresh = m.fresh(s);
        for (const auto &[bucket, want] : fresh) {
            if (bucket < low) continue;
            int64_t got = -1;
            if (covers(from_raw, bucket)) {
                got = want;
            } else {
                auto it = m.target[s].find(bucket);
                if (it != m.target[s].end()) got = it->second;
            }
            if (got != want)
                FAIL_CHECK("view: shard " << s << " bucket " << bucket << " frontier "
                                          << (m.frontier ? *m.frontier : -1) << ": " << got << ", raw rows " << want);
        }
        // No bucket twice: a target row inside the raw ranges is not shown.
        for (const auto &[bucket, n] : m.target[s])
            if (!covers(from_raw, bucket) && m.frontier) EXPECT(bucket < *m.frontier);
    }
}

TEST_CASE("realtime_source_buckets: before the first run, frontier, widened invalidations", "[rollup_plan]") {
    const Bucketing b(10, 0);
    CHECK(realtime_source_buckets(b, std::nullopt, {{5, 7}}, {}) == RangeList{{kNoBegin, kNoEnd}});
    CHECK(realtime_source_buckets(b, 100, {}, {}) == RangeList{{100, kNoEnd}});
    CHECK(realtime_source_buckets(b, 100, {{33, 35}, {41, 42}}, {}) == RangeList{{30, 50}, {100, kNoEnd}});
    CHECK(realtime_source_buckets(b, 100, {{95, 99}}, {{12, 13}}) == RangeList{{10, 20}, {90, kNoEnd}});
    CHECK(realtime_source_buckets(b, 100, {{kNoBegin, 45}}, {}) == RangeList{{kNoBegin, 50}, {100, kNoEnd}});
}

void run(Model &m, std::mt19937_64 &rng, bool interleave) {
    // Fixed for the whole run; now and then a clock that went back (the frontier must stay).
    const int64_t now = m.clock - (rng() % 8 == 0 ? static_cast<int64_t>(rng() % 60) : 0);
    const int64_t holdback = static_cast<int64_t>(rng() % 3) * 12;
    const uint64_t pick = rng() % 16;
    const uint64_t budget = pick < 8 ? 0 : pick == 8 ? 1 : 2 + rng() % 9;  // buckets per shard per step
    const std::size_t max_ranges = 1 + rng() % 8;
    uint64_t max_steps = 1;
    for (uint64_t n = 0; n < max_steps; n++) {
        RunRequest r;
        r.shard_count = Model::kShards;
        r.frontier = m.frontier;
        if (!m.frontier) {
            int64_t mn = INT64_MAX;
            for (auto &rows : m.raw)
                for (int64_t t : rows) mn = std::min(mn, t);
            if (mn != INT64_MAX) r.first_start = mn;
        }
        r.now = now;
        r.holdback = holdback;
        r.lowest = m.lowest;
        r.invalidations = m.catalog;  // read (and deleted) under the rollup's lock
        r.max_buckets_per_shard = budget;
        r.max_ranges_per_shard = max_ranges;
        const RunStep st = plan_step(m.b, r);

        if (n == 0) max_steps = budget == 0 ? 1 : (st.backlog + budget - 1) / budget;
        if (budget == 0) EXPECT(st.done);
        const int64_t low = m.b.ceil(m.lowest);
        EXPECT(st.to_frontier >= st.from_frontier);
        EXPECT(m.b.is_boundary(st.to_frontier));
        if (m.frontier) EXPECT(st.from_frontier == *m.frontier);
        if (st.done) EXPECT(st.to_frontier == std::max(st.from_frontier, m.b.start_of(now - holdback)));
        EXPECT(st.to_frontier <= std::max(st.from_frontier, m.b.start_of(now - holdback)));
        for (int s = 0; s < Model::kShards; s++) {
            const RangeList &rc = st.recompute[s];
            EXPECT(canonical(rc));
            EXPECT(rc.size() <= max_ranges);
            for (const TimeRange &x : rc) {
                EXPECT(x.lo >= low);               // nothing rewritten below the retention horizon
                EXPECT(x.hi <= st.to_frontier);    // nothing at or after the new frontier
                EXPECT(x.hi <= std::max(st.from_frontier, m.b.start_of(now)));  // the bucket in progress stays out
            }
            // Every dirty bucket is recomputed now or stays recorded; every new bucket is computed.
            const auto planned = buckets_of(m, rc, st.to_frontier);
            const auto left = buckets_of(m, st.remaining[s], st.from_frontier);
            for (int64_t bucket : m.dirty[s]) {
                if (bucket < low) continue;
                if (planned.count(bucket) == 0 && left.count(bucket) == 0)
                    FAIL_CHECK("shard " << s << ": dirty bucket " << bucket << " neither recomputed nor kept");
            }
            for (int64_t t = std::max(st.from_frontier, low); t < st.to_frontier; t += m.b.stride())
                EXPECT(covers(rc, t));
            // Execute: per bucket, cells that still have raw rows are replaced; others keep their row.
            const auto fresh = m.fresh(s);
            for (int64_t bucket : planned) {
                auto it = fresh.find(bucket);
                if (it != fresh.end()) m.target[s][bucket] = it->second;
                m.dirty[s].erase(bucket);
            }
        }
        // Commit: rows read are replaced by what remains; the frontier advances.
        m.catalog.clear();
        for (int s = 0; s < Model::kShards; s++)
            for (const TimeRange &x : st.remaining[s]) m.catalog.push_back({s, x});
        m.frontier = st.to_frontier;
        check_invariant(m);
        if (st.done) break;
        if (interleave && rng() % 2) random_write(m, rng);
    }
    // A run with nothing written during it finishes within its step bound, leaving nothing recorded.
    if (!interleave) {
        EXPECT(m.catalog.empty());
        EXPECT(*m.frontier >= m.b.start_of(now - holdback));
    }
}

}  // namespace

// Fixed work (250 sequences of 60 operations, 4 shards, about 100 buckets): about 0.2 s in the
// Release build `make unit` uses (2 s at -O0). No wall-clock assertion: the machines are shared.
TEST_CASE("model check: writes and runs in steps keep the target exact", "[rollup_plan]") {
    std::mt19937_64 rng(20240611);
    for (int seq = 0; seq < 250; seq++) {
        Model m;
        for (int op = 0; op < 60; op++) {
            const int what = static_cast<int>(rng() % 10);
            check_view(m);
            if (what < 7) {
                random_write(m, rng);
            } else if (what < 9) {
                m.clock += static_cast<int64_t>(rng() % 120);
                run(m, rng, rng() % 3 == 0);
            } else if (m.frontier && m.clock > 400) {
                // Retention: rows below min(now - keep, F) go, with no invalidation; the horizon
                // only rises.
                const int64_t cutoff = std::min(m.clock - 400, *m.frontier);
                for (auto &rows : m.raw)
                    rows.erase(std::remove_if(rows.begin(), rows.end(), [&](int64_t t) { return t < cutoff; }),
                               rows.end());
                m.lowest = std::max(m.lowest, cutoff);
            }
        }
        m.clock += 40;
        run(m, rng, false);
        check_invariant(m);
        check_view(m);
    }
}
