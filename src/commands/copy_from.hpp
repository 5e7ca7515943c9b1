// COPY and distributed tables (utility hook): COPY FROM routes rows to the shards; COPY TO reads
// them through a query.
#pragma once
#include <functional>

#include "pg/guard.hpp"

namespace rollup::commands {

// Returns false when the statement is not a COPY of a distributed table. `run_standard` runs a
// (possibly rewritten) utility statement through the rest of the hook chain.
bool copy_distributed(PlannedStmt *pstmt, const char *query_string, QueryCompletion *qc,
                      const std::function<void(PlannedStmt *)> &run_standard);

}  // namespace rollup::commands
