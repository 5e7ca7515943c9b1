// What the rollup engine's files share: a rollup as the catalog holds it, the analyzed shape of its
// query, and the catalog and naming helpers (rollup_engine.cpp defines them; realtime.cpp uses them).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/guard.hpp"
#include "pg/spi.hpp"

namespace rollup::engine {

constexpr int64_t kUnixTo2000Us = 946684800LL * 1000000;  // 2000-01-01 - 1970-01-01, microseconds

// One row of rollup.rollup.
struct Rollup {
    int64_t id = 0;
    std::string name;
    Oid owner = InvalidOid;
    Oid source = InvalidOid;
    Oid target = InvalidOid;
    std::string query;
    std::string source_key, time_column, target_key, target_bucket;
    int64_t stride = 0, origin = 0;
    std::optional<int64_t> frontier;
    std::optional<int64_t> source_rollup;  // the rollup whose target is this one's source
};

// The analyzed rollup query and what it is made of.
struct Shape {
    Query *query = nullptr;
    Oid source = InvalidOid;
    AttrNumber time_attno = 0;
    std::string source_key, time_column, target_key, target_bucket;
    Node *bucket_expr = nullptr;  // as written (date_trunc or date_bin of the time column)
    int64_t stride = 0, origin = 0;
    std::vector<std::pair<std::string, Oid>> outputs;  // name, type
};

[[noreturn]] void fail(int code, const std::string &msg, const std::string &detail = {}, const std::string &hint = {});
std::string rel_name(Oid relid);
std::string qualified(Oid relid);
std::string quote(const std::string &s);
// Parses and analyzes one SELECT (the caller's search_path and settings).
Query *analyze(const std::string &sql);
// The rollup query analyzed and validated: one distributed source, GROUP BY its distribution column
// and one time bucket, everything computable on the shards. Throws PgError with a clear message.
// The bucket expression in the returned query is normalized: date_trunc('hour' | 'day', ...) becomes
// the equivalent date_bin, so its value does not depend on the session's time zone.
Shape analyze_shape(const std::string &sql);
// The analyzed rollup query of r with `cond` (SQL over the source's columns) added to its WHERE as
// a tree; printed with every name qualified by print_query.
Query *query_with(const Rollup &r, const std::string &cond);
std::string print_query(Query *q);
void ensure_owner(Oid relid);
Oid rollup_catalog_oid();
// The rollup `where` selects ("WHERE name = $1"); fails with undefined_object naming `what`.
Rollup load(const std::string &where, const std::vector<pg::Param> &params, const std::string &what);
// The rollups whose source is the target of rollup `id` (rollups of rollups).
std::vector<Rollup> upper_rollups(int64_t id);
// 'timestamp'::pg_catalog.timestamptz for microseconds since 2000-01-01 UTC.
std::string timestamptz_literal(int64_t us);

// Lock sub-ids on (rollup catalog, rollup id): a run holds kRunLock exclusively while it plans,
// writes and moves the frontier; it takes kCommitLock exclusively last, so it is held from the
// moment its progress is written until its distributed commit has finished on every node (the
// COMMIT PREPAREDs run before PostgreSQL releases locks). Readers of the frontier wait for
// kCommitLock, never for a run's work.
constexpr uint16 kRunLock = 0;
constexpr uint16 kCommitLock = 1;
// Waits until no run of rollup `id` is between writing its progress and finishing its commit.
void wait_for_commit_phase(int64_t id);

}  // namespace rollup::engine
