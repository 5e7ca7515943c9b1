// The RollupScan custom scan: executes a planned select::ScanSpec on the shards.
#pragma once
#include "pg/guard.hpp"

namespace rollup::scan {

// Registers the scan methods and the rollup.explain_all_tasks setting (from _PG_init).
void init();
const CustomScanMethods *methods();

}  // namespace rollup::scan
