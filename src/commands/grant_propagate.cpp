#include <map>
#include <set>
#include <string>
#include <vector>

#include "commands/grant_propagate.hpp"
#include "executor/remote_exec.hpp"
#include "metadata/metadata_cache.hpp"
#include "pg/spi.hpp"

namespace rollup::commands {

namespace {

struct AclEntry {
    std::string grantee;  // quoted role name, or PUBLIC
    std::string privilege;
    bool grantable;
};

std::vector<AclEntry> acl_entries(pg::SpiSession &spi, Oid relid) {
    auto rows = spi.query(
        "SELECT CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC' "
        "ELSE pg_catalog.quote_ident(r.rolname) END, a.privilege_type, a.is_grantable "
        "FROM pg_catalog.pg_class c, "
        "pg_catalog.aclexplode(coalesce(c.relacl, pg_catalog.acldefault('r', c.relowner))) a "
        "LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee "
        "WHERE c.oid OPERATOR(pg_catalog.=) $1 AND a.grantee OPERATOR(pg_catalog.<>) c.relowner "
        "ORDER BY 1, 2",
        {pg::oid_param(relid)}, false);  // not read-only: a fresh snapshot sees the GRANT just run
    std::vector<AclEntry> out;
    for (auto &r : rows) out.push_back({r[0].value_or("PUBLIC"), r[1].value_or(""), r[2].value_or("f") == "t"});
    return out;
}

void append_acl_sql(exec::Statements &out, const std::vector<AclEntry> &entries,
                    const std::set<std::string> &also_revoke, const std::string &shard) {
    std::set<std::string> grantees(also_revoke);
    grantees.insert("PUBLIC");
    for (const AclEntry &e : entries) grantees.insert(e.grantee);
    for (const std::string &g : grantees) out.push_back("REVOKE ALL ON TABLE " + shard + " FROM " + g);
    for (const AclEntry &e : entries)
        out.push_back("GRANT " + e.privilege + " ON TABLE " + shard + " TO " + e.grantee +
                      (e.grantable ? " WITH GRANT OPTION" : ""));
}

}  // namespace

std::vector<std::string> shard_acl_sql(Oid relid, const std::string &shard_name) {
    pg::SpiSession spi;
    std::vector<AclEntry> entries = acl_entries(spi, relid);
    exec::Statements out;
    if (entries.empty()) return out;
    append_acl_sql(out, entries, {}, shard_name);
    return out;
}

namespace {

// What capture_distributed_acls keeps per table (palloc'd: it lives across the utility command).
struct AclSnapshot {
    Oid relid;
    Oid owner;
    char *acl;  // text form; "" for the default ACL
};

}  // namespace

List *capture_distributed_acls() {
    List *out = NIL;
    for (const metadata::DistTable *t : metadata::all_tables()) {
        Oid relid = t->relid;
        AclSnapshot *snap = pg::call([&] {
            HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
            if (!HeapTupleIsValid(tup)) return static_cast<AclSnapshot *>(nullptr);
            AclSnapshot *sn = static_cast<AclSnapshot *>(palloc(sizeof(AclSnapshot)));
            sn->relid = relid;
            sn->owner = ((Form_pg_class)GETSTRUCT(tup))->relowner;
            bool isnull;
            Datum d = SysCacheGetAttr(RELOID, tup, Anum_pg_class_relacl, &isnull);
            sn->acl = isnull ? pstrdup("") : OidOutputFunctionCall(F_ARRAY_OUT, d);
            ReleaseSysCache(tup);
            return sn;
        });
        if (snap) out = pg::call([&] { return lappend(out, snap); });
    }
    return out;
}

void sync_changed_acls(List *before) {
    std::map<Oid, const AclSnapshot *> old;
    ListCell *lc;
    foreach (lc, before) {
        const AclSnapshot *sn = static_cast<const AclSnapshot *>(lfirst(lc));
        old[sn->relid] = sn;
    }
    pg::call([] { CommandCounterIncrement(); });
    List *after = capture_distributed_acls();
    std::map<int, exec::Statements> sql_by_node;
    pg::SpiSession spi;
    foreach (lc, after) {
        const AclSnapshot *now = static_cast<const AclSnapshot *>(lfirst(lc));
        const Oid relid = now->relid;
        auto it = old.find(relid);
        if (it == old.end()) continue;
        const AclSnapshot *was = it->second;
        const bool owner_changed = was->owner != now->owner;
        if (!owner_changed && strcmp(was->acl, now->acl) == 0) continue;
        const metadata::DistTable &t = metadata::get(relid);
        // Shards follow their table's owner (REASSIGN OWNED).
        if (owner_changed) {
            Oid o = now->owner;
            std::string owner = pg::call([&] { return std::string(quote_identifier(GetUserNameFromId(o, false))); });
            for (const metadata::ShardInfo &s : t.shards)
                sql_by_node[s.nodeid].push_back("ALTER TABLE " + s.name + " OWNER TO " + owner);
        }
        // Whoever held privileges before must lose what they no longer have.
        std::set<std::string> previous;
        if (was->acl[0]) {  // empty: the default ACL, the owner's alone
            auto rows = spi.query(
                "SELECT DISTINCT CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC' "
                "ELSE pg_catalog.quote_ident(r.rolname) END "
                "FROM pg_catalog.aclexplode($1::pg_catalog.aclitem[]) a "
                "LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee",
                {{TEXTOID, std::string(was->acl)}});
            for (auto &r : rows)
                if (r[0]) previous.insert(*r[0]);
        }
        Oid o = now->owner;
        std::string owner = pg::call([&] { return std::string(quote_identifier(GetUserNameFromId(o, false))); });
        previous.erase(owner);
        std::vector<AclEntry> entries = acl_entries(spi, relid);
        for (const metadata::ShardInfo &s : t.shards) append_acl_sql(sql_by_node[s.nodeid], entries, previous, s.name);
    }
    if (!sql_by_node.empty()) exec::execute_per_node(sql_by_node, true);
}

}  // namespace rollup::commands
