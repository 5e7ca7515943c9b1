#include "pg/as_superuser.hpp"
#include "pg/pinned_settings.hpp"

namespace rollup::pg {

void enter_privileged(PrivilegedState &saved) {
    GetUserIdAndSecContext(&saved.saved_user, &saved.saved_sec);
    SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
                           saved.saved_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
    static const Setting pinned[] = {{"search_path", "pg_catalog, pg_temp"}};
    saved.guc_nest_level = pin_settings(pinned, 1);
}

void leave_privileged(const PrivilegedState &saved) {
    unpin_settings(saved.guc_nest_level);
    SetUserIdAndSecContext(saved.saved_user, saved.saved_sec);
}

AsSuperuser::AsSuperuser() {
    PrivilegedState *out = &saved_;
    call([&] { enter_privileged(*out); });
}

AsSuperuser::~AsSuperuser() {
    // Restoring saved values of search_path cannot fail (no check hook rejects a value it accepted
    // before); should it, the error must not escape a destructor.
    const PrivilegedState *s = &saved_;
    try {
        call([&] { leave_privileged(*s); });
    } catch (...) {
        SetUserIdAndSecContext(saved_.saved_user, saved_.saved_sec);
    }
}

}  // namespace rollup::pg
