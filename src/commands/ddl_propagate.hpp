// DDL on distributed tables (utility hook): TRUNCATE, ALTER TABLE ADD/DROP COLUMN, SET/DROP NOT NULL,
// SET/DROP DEFAULT, RENAME COLUMN, CREATE INDEX and DROP INDEX run on the shell table, then on every
// shard in the same (distributed) transaction. Other DDL on a distributed table is refused (0A000)
// with the name of what is not supported. DROP TABLE is handled by the sql_drop event trigger.
#pragma once
#include <functional>

#include "pg/guard.hpp"

namespace rollup::commands {

// Returns false when the statement does not concern a distributed table.
bool ddl_distributed(PlannedStmt *pstmt, const char *query_string,
                     const std::function<void(PlannedStmt *)> &run_standard);

}  // namespace rollup::commands
