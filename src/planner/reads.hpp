// Distributed SELECT: planning (router, pushdown, partial aggregation, fallback) and the RollupScan
// custom scan. init() installs the planner-side hooks it needs; called from hooks::init().
#pragma once
namespace rollup::reads {
void init();
}  // namespace rollup::reads
