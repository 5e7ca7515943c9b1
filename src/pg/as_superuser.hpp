// Metadata of the extension is writable only by its owner, while users who own a table must be able
// to distribute it: the few statements that write rollup.* tables on a user's behalf run in this
// scope, as the bootstrap superuser, with fixed SQL and parameters only. Node connections are never
// opened inside it (they must run as the user). An error inside is safe too: transaction abort
// restores the user, and C++ unwinding runs the destructor.
#pragma once
#include "pg/guard.hpp"

namespace rollup::pg {

class AsSuperuser {
public:
    AsSuperuser() {
        GetUserIdAndSecContext(&saved_user_, &saved_context_);
        SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, saved_context_ | SECURITY_LOCAL_USERID_CHANGE);
    }
    ~AsSuperuser() { SetUserIdAndSecContext(saved_user_, saved_context_); }
    AsSuperuser(const AsSuperuser &) = delete;
    AsSuperuser &operator=(const AsSuperuser &) = delete;

private:
    Oid saved_user_;
    int saved_context_;
};

}  // namespace rollup::pg
