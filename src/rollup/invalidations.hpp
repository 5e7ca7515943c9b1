// What writers tell native rollups (docs/rollup-engine.md, "Writes record invalidations").
//
// The coordinator routes every write of a distributed table, so it knows each row's shard and time
// value: routed INSERT/COPY rows note their timestamps, pushed-down UPDATE/DELETE/INSERT ... SELECT
// note an unknown span on the shards they touch. At pre-commit the transaction takes each affected
// rollup's frontier lock in ShareLock (a run holds it exclusively while it moves the frontier, so the
// writer reads the frontier the run left), and records the touched bucket ranges below the frontier
// in rollup.rollup_invalidation, in its own transaction: the record commits exactly when the rows do.
// Tables without rollups cost one cached lookup per statement.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/rollup_plan.hpp"

#include "pg/guard.hpp"
#include "pg/spi.hpp"

namespace rollup::engine {

// The time columns (attribute numbers) that rollups of `source` bucket; empty when it has none.
// Cached per backend, refreshed when rollup.rollup changes.
std::vector<AttrNumber> tracked_time_columns(Oid source);
// This transaction wrote rows with these time values (column `attno`) to a shard of `source`.
void note_write(Oid source, AttrNumber attno, int shard_index, const core::WriteSpan &span);
// This transaction wrote rows of unknown time values to these shards of `source` (all columns).
void note_unknown(Oid source, const std::vector<int> &shard_indexes);
// A pushed-down UPDATE or DELETE (its folded Query) on these shards of `source`: the rows it changes
// are bounded in time by its WHERE clause (comparisons of the time column with constants) unless it
// assigns the time column; what is not bounded is unknown.
void note_pushdown(Oid source, const Query *query, const std::vector<int> &shard_indexes);
// Pre-commit: takes the frontier locks and records the invalidations, then the commit locks of the
// runs this transaction made. No-op when nothing was noted.
void record_invalidations();
// Appends [range.lo, range.hi) (microseconds since 2000-01-01 UTC) for one shard index of a rollup
// to rollup.rollup_invalidation. The one place that writes a row there; the caller is in a
// raised-privilege block.
void insert_invalidation(pg::SpiSession &spi, int64_t rollup_id, int shard_index, const core::TimeRange &range);
// This transaction ran rollup `id`: its commit lock (rollup_internal.hpp, kCommitLock) is taken at
// pre-commit and held through the distributed commit, so real-time views wait only for that.
void note_run(int64_t id);
// How far expiry of `source` may go for its rollups: `cutoff` lowered to each rollup's frontier and
// to the oldest range it has still to recompute, then down to that rollup's bucket boundary (a bucket
// expires whole or not at all, so no run ever rewrites one from what is left of it). nullopt when a
// rollup has not run yet (nothing may expire); `cutoff` itself when the table has no rollup.
std::optional<int64_t> expiry_limit(Oid source, int64_t cutoff);
// A rollup's name when `relid` is the source or the target of one (empty otherwise): renaming its
// columns or undistributing it would break the rollup.
std::string rollup_using(Oid relid);
// rollup.rollup changed (create / drop): every backend reloads its cache.
void rollups_changed();
void register_callbacks();

}  // namespace rollup::engine
