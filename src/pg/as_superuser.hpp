// Raising privileges. Metadata of the extension is writable only by its owner, while users who own
// a table must be able to distribute it, and the scheduler writes its catalog on behalf of job
// owners: the few statements that write rollup.* tables on a user's behalf run in a privileged
// scope, as the bootstrap superuser, with fixed SQL and parameters only.
//
// What a privileged scope guarantees (docs/security.md):
//  * search_path is pinned to "pg_catalog, pg_temp" for the scope (a GUC nest level, as
//    PostgreSQL does for SECURITY DEFINER functions with SET search_path): an unqualified function
//    or operator in our SQL (nextval, =, now()) can never resolve to a user's object, whatever the
//    caller's search_path or the database's default;
//  * SECURITY_RESTRICTED_OPERATION: nothing run inside may SET ROLE, create temporary objects or
//    otherwise leave state behind for the caller;
//  * node connections are never opened inside it (they must run as the user).
// Leaving the scope restores the user and the settings. An error inside is safe too: transaction
// (or subtransaction) abort restores both, and C++ unwinding runs the destructor.
#pragma once
#include "pg/guard.hpp"

namespace rollup::pg {

struct PrivilegedState {
    Oid saved_user;
    int saved_sec;
    int guc_nest_level;
};

// PostgreSQL-style C (may ereport): for code that already runs under PG_TRY or in a background
// worker's own error handling. C++ code uses AsSuperuser.
void enter_privileged(PrivilegedState &saved);
void leave_privileged(const PrivilegedState &saved);

class AsSuperuser {
public:
    AsSuperuser();
    ~AsSuperuser();
    AsSuperuser(const AsSuperuser &) = delete;
    AsSuperuser &operator=(const AsSuperuser &) = delete;

private:
    PrivilegedState saved_;
};

// The owner of a relation (an ERROR when it does not exist).
Oid relation_owner(Oid relid);

// The scope runs as the owner of a table, in a restricted operation with search_path pinned as
// above, as PostgreSQL runs VACUUM or REFRESH MATERIALIZED VIEW: a trigger or rule the owner put on
// the table (or its shards) never runs with the rights of whoever started the work (a superuser,
// the scheduler). Rollup runs and expiry use it.
class AsTableOwner {
public:
    explicit AsTableOwner(Oid relid);
    ~AsTableOwner();
    AsTableOwner(const AsTableOwner &) = delete;
    AsTableOwner &operator=(const AsTableOwner &) = delete;

private:
    PrivilegedState saved_;
};

}  // namespace rollup::pg
