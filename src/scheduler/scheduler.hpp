// The in-server scheduler (see docs/scheduler.md).
#pragma once
namespace rollup::scheduler {
// Called from _PG_init: GUCs, and the launcher background worker when preloaded.
void init();
}  // namespace rollup::scheduler
