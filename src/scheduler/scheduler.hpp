// The in-server scheduler: cron/interval jobs run by background workers, and retention policies.
// Pure declarations (no PostgreSQL headers), so src/rollup.cpp and other modules can include it.
#pragma once
#include <cstdint>

namespace rollup::scheduler {

// Called from _PG_init: defines the rollup.* scheduler GUCs in every process and, when loaded from
// shared_preload_libraries, registers the launcher background worker.
void init();

// A function that did measurable work (rows expired, rows rolled up) reports the count here; a job
// run records it as its `rows` instead of the row count of the command's last statement.
void report_rows(int64_t rows);

}  // namespace rollup::scheduler
