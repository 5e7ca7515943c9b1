// Privileges of distributed tables reach their shards: node sessions run as the querying user, so a
// user granted SELECT on a distributed table needs the same grant on every shard.
#pragma once
#include <string>
#include <vector>

#include "pg/guard.hpp"

namespace rollup::commands {

// Statements that give shard_name (on its node) the privileges the table has on the coordinator,
// for every grantee other than the owner: REVOKE ALL from everyone named, then GRANT each entry.
std::vector<std::string> shard_acl_sql(Oid relid, const std::string &shard_name);

// Around a GRANT/REVOKE on tables: the ACLs of the distributed tables before (palloc'd List), and
// after it the shards of every table whose ACL changed are brought in line.
List *capture_distributed_acls();
void sync_changed_acls(List *before);

}  // namespace rollup::commands
