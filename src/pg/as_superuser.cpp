#include "pg/as_superuser.hpp"
#include "pg/pinned_settings.hpp"

namespace rollup::pg {

namespace {

void enter_as(Oid user, PrivilegedState &saved) {
    GetUserIdAndSecContext(&saved.saved_user, &saved.saved_sec);
    SetUserIdAndSecContext(user, saved.saved_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
    static const Setting pinned[] = {{"search_path", "pg_catalog, pg_temp"}};
    saved.guc_nest_level = pin_settings(pinned, 1);
}

void leave(const PrivilegedState &saved) {
    // Restoring saved values of search_path cannot fail (no check hook rejects a value it accepted
    // before); should it, the error must not escape a destructor.
    const PrivilegedState *s = &saved;
    try {
        call([&] { leave_privileged(*s); });
    } catch (...) {
        SetUserIdAndSecContext(saved.saved_user, saved.saved_sec);
    }
}

}  // namespace

void enter_privileged(PrivilegedState &saved) { enter_as(BOOTSTRAP_SUPERUSERID, saved); }

void leave_privileged(const PrivilegedState &saved) {
    unpin_settings(saved.guc_nest_level);
    SetUserIdAndSecContext(saved.saved_user, saved.saved_sec);
}

AsSuperuser::AsSuperuser() {
    PrivilegedState *out = &saved_;
    call([&] { enter_privileged(*out); });
}

AsSuperuser::~AsSuperuser() { leave(saved_); }

Oid relation_owner(Oid relid) {
    return call([&] {
        HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
        if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for relation %u", relid);
        Oid o = ((Form_pg_class)GETSTRUCT(tup))->relowner;
        ReleaseSysCache(tup);
        return o;
    });
}

AsTableOwner::AsTableOwner(Oid relid) {
    const Oid owner = relation_owner(relid);
    PrivilegedState *out = &saved_;
    call([&] { enter_as(owner, *out); });
}

AsTableOwner::~AsTableOwner() { leave(saved_); }

}  // namespace rollup::pg
