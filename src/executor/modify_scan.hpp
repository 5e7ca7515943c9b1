// Custom scans of distributed writes (plans built by src/planner/writes.cpp):
//  * RollupModify, kind kInsertRows: replaces the ModifyTable of an INSERT into a distributed table;
//    its child is the ModifyTable's source plan (which evaluates defaults and volatile expressions
//    once per row, on the coordinator); rows go through exec::ShardRouter. RETURNING is projected
//    locally from the row sent, except with ON CONFLICT, where the shards return the stored rows.
//  * RollupModify, kind kPushdown: UPDATE / DELETE, and INSERT ... SELECT between co-located
//    tables: the statement is deparsed once per shard (after folding parameters and stable
//    functions) and run on the shards that can hold matching rows, one round trip per node.
//  * RollupSelect: a separately planned SELECT (planned through the whole planner hook chain, so
//    the read side plans its distributed tables) run into a tuplestore and fed to the plan above it
//    (the INSERT's source when the SELECT reads distributed tables).
// PlannedStmt keeps its commandType and has no resultRelations: permissions are still checked on
// the range table, the command tag counts es_processed, and the shell table is never written.
#pragma once
#include "pg/guard.hpp"

namespace rollup::modify {

enum Kind { kInsertRows = 1, kPushdown = 2 };

void register_methods();

// custom_private layout of RollupModify: (kind, relid, autocommit_ok, query-or-NULL,
// conflict_query-or-NULL, with_check_options). with_check_options: kInsertRows only, the planned
// WithCheckOption list of the ModifyTable it replaces (row-level security WITH CHECK, views WITH
// CHECK OPTION), checked on the coordinator for every routed row exactly as ExecInsert does.
CustomScan *make_modify_scan(Kind kind, Oid relid, Index scanrelid, bool autocommit_ok, Query *query,
                             Query *on_conflict_query, List *with_check_options = NIL);
// RollupSelect running `inner`; `tlist` is its output (Vars INDEX_VAR point into inner's columns).
CustomScan *make_select_scan(PlannedStmt *inner, List *tlist);

}  // namespace rollup::modify
