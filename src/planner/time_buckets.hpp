// date_trunc made cheap in the statements sent to shards, with the same results (core/time_bucket.hpp
// has the rules and why they are exact).
//
// Design note. Dashboards group and filter by date_trunc('minute', ingest_time) over every raw row;
// on timestamptz each call is a time-zone lookup and a calendar conversion (~0.4 us a row, twice a
// row: in the filter and in the group key), the largest single cost of such a query. After the
// statement is folded for execution (constants known), fold_for_execution / the scan's folding
// rewrite, in the session's time zone:
//  * date_trunc('minute' | 'hour' | 'second' | 'milliseconds' | 'microseconds', x) into
//    date_bin(<unit>, x, '2000-01-01 00:00+00'), pure arithmetic, when every UTC offset of the
//    session's zone (from where it became aligned; CASE on x before that) is a multiple of the
//    unit. Only on timestamptz: date_trunc on timestamp without time zone is immutable and may be
//    what an expression index is built on, which a rewritten expression would no longer match.
//  * date_trunc(unit, x) <op> constant (op: < <= = >= >) into a plain comparison of x with a bound
//    computed here, so the filter costs one comparison and can use an index on x.
// What a zone's offsets are comes from PostgreSQL's own zone data (pg_next_dst_boundary), scanned
// once per zone per backend. rollup.rewrite_time_buckets = off keeps date_trunc as written.
// EXPLAIN ANALYZE shows the rewritten shard statement; plain EXPLAIN the statement as written.
//
// Must never: change a value or a row count, rewrite for a zone it has not proven aligned, or run a
// C++ allocation inside pg::call (time_bucket_context() is computed before, outside).
#pragma once
#include <cstdint>

#include "pg/guard.hpp"

namespace rollup::deparse {

// Facts about the session's time zone the rewrite needs, computed outside pg::call.
struct TimeBucketContext {
    bool enabled = false;
    int64_t t0_second = 0;  // TimestampTz from which offsets are whole seconds (DT_NOBEGIN / DT_NOEND)
    int64_t t0_minute = 0;  // ... whole minutes
    int64_t t0_hour = 0;    // ... whole hours
};

TimeBucketContext time_bucket_context();

// C-style: run inside pg::call. Returns the rewritten tree (nodes are copied where changed).
// `row_filter`: node is a row-level expression (a WHERE qual), where comparisons may be rewritten
// too; a Query decides that per clause itself.
Node *rewrite_time_buckets(Node *node, const TimeBucketContext *ctx, bool row_filter);

void define_time_bucket_gucs();

}  // namespace rollup::deparse
