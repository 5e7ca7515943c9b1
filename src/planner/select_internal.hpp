// Shared between the SELECT planner (planner/reads.cpp, select_*.cpp, pruning.cpp) and the
// RollupScan executor (executor/rollup_scan.cpp): what a RollupScan does, and how that travels in
// CustomScan.custom_private (a List of plain nodes, so it survives copyObject and nodeToString).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/partial_agg.hpp"

#include "metadata/metadata_cache.hpp"

namespace rollup::select {

enum class Mode : int {
    Scan = 0,        // per-shard scan with filters and projections; PostgreSQL does the rest
    FullAgg = 1,     // every shard returns final groups (GROUP BY has the distribution column)
    PartialAgg = 2,  // shards return partial aggregates; the scan combines them per group
    Query = 3,       // the whole query runs per shard index (select_pushdown.cpp); rows concatenated
    JoinScan = 4,    // the joins run per shard index; the coordinator does the rest
};

const char *mode_name(Mode m);

struct ScanSpec {
    Mode mode = Mode::Scan;
    Oid relid = InvalidOid;
    // Scan: columns to fetch (attnums). Agg modes: group expressions then Aggrefs, with Vars of
    // varno 1 (deparsed against the table).
    List *fetch_attnums = NIL;
    List *remote_exprs = NIL;
    int ngroup = 0;
    List *group_eqops = NIL;  // OidList, PartialAgg: equality operator of each group key
    List *remote_quals = NIL; // varno 1, implicit AND
    bool all_shards = true;   // else `shards`
    List *shards = NIL;       // IntList of shard indexes that survived plan-time pruning
    List *prune_exprs = NIL;  // List of List(Integer is_array, Expr value): pruned at execution
    Query *query = nullptr;   // Query, JoinScan: the statement of every shard index (relid: a table of it)
};

List *spec_to_list(const ScanSpec &spec);
ScanSpec spec_from_list(List *l);

// Whether an expression can be evaluated on a shard with the same result as on the coordinator:
// Vars of relation `rti` only, built-in non-volatile functions, operators, types and collations,
// external Params (folded at execution), no sublinks. Aggrefs only when `allow_aggs`.
bool is_shippable(Node *expr, Index rti, bool allow_aggs);

// The same for expressions over any relation of a query whose relations all ship (pushdown).
bool is_shippable_anywhere(Node *expr, bool allow_aggs);

// Whether an expression or a query (sublinks and subqueries included) computes anything whose result
// depends on the session's DateStyle, IntervalStyle, extra_float_digits or bytea_output (casts of
// dates, intervals, floats, bytea to or from text; format, concat, ... of such values). The node
// sessions keep those settings canonical: the rule is_shippable applies, for statements that run on
// the shards as a whole (writes).
bool depends_on_output_settings(Node *node);

// Whole-query pushdown (select_pushdown.cpp): for a SELECT over co-located distributed tables
// joined on their distribution columns (or one table with ORDER BY ... LIMIT), the coordinator's
// query `outer`, whose relation `rte` (a placeholder) is to be read by a RollupScan that runs
// `inner` on every shard index. outer == nullptr: not applicable.
struct Pushdown {
    Query *outer;
    RangeTblEntry *rte;
    Query *inner;
    Mode mode;
};
Pushdown plan_pushdown(Query *q);
// Shard indexes a (folded) pushed-down query must run on: top-level WHERE (and inner join)
// conjuncts that pin a relation's distribution column prune for all, the shards being co-located.
std::vector<int> prune_pushdown(const Query *q, const metadata::DistTable &rep);

// How an Aggref is combined from per-shard results (Unsupported: not splittable).
core::CombineKind combine_kind(const Aggref *agg);

// Plan-time pruning from restriction clauses (Exprs over relation `rti`): equality and IN on the
// distribution column with constants prune now; with Params, later (prune_exprs).
struct Pruning {
    bool all = true;
    std::vector<int> shards;  // sorted, when !all
    List *prune_exprs = NIL;
};
Pruning prune_at_plan_time(const metadata::DistTable &t, List *clauses, Index rti);
// Applies the execution-time part; `shards` empty means none can match.
std::vector<int> prune_at_execution(const metadata::DistTable &t, const ScanSpec &spec, ExprContext *econtext);

}  // namespace rollup::select
