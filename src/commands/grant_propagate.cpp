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
        "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END, a.privilege_type, "
        "a.is_grantable FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a "
        "LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE c.oid = $1 AND a.grantee <> c.relowner "
        "ORDER BY 1, 2",
        {pg::oid_param(relid)}, false);  // not read-only: a fresh snapshot sees the GRANT just run
    std::vector<AclEntry> out;
    for (auto &r : rows) out.push_back({r[0].value_or("PUBLIC"), r[1].value_or(""), r[2].value_or("f") == "t"});
    return out;
}

std::string acl_sql(const std::vector<AclEntry> &entries, const std::set<std::string> &also_revoke,
                    const std::string &shard) {
    std::set<std::string> grantees(also_revoke);
    grantees.insert("PUBLIC");
    for (const AclEntry &e : entries) grantees.insert(e.grantee);
    std::string sql;
    for (const std::string &g : grantees) sql += "REVOKE ALL ON TABLE " + shard + " FROM " + g + ";";
    for (const AclEntry &e : entries)
        sql += "GRANT " + e.privilege + " ON TABLE " + shard + " TO " + e.grantee +
               (e.grantable ? " WITH GRANT OPTION;" : ";");
    return sql;
}

}  // namespace

std::string shard_acl_sql(Oid relid, const std::string &shard_name) {
    pg::SpiSession spi;
    std::vector<AclEntry> entries = acl_entries(spi, relid);
    if (entries.empty()) return {};
    return acl_sql(entries, {}, shard_name);
}

List *capture_distributed_acls() {
    List *out = NIL;
    for (const metadata::DistTable *t : metadata::all_tables()) {
        Oid relid = t->relid;
        char *acl = pg::call([&] {
            HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
            if (!HeapTupleIsValid(tup)) return pstrdup("");
            bool isnull;
            Datum d = SysCacheGetAttr(RELOID, tup, Anum_pg_class_relacl, &isnull);
            char *s = isnull ? pstrdup("") : OidOutputFunctionCall(F_ARRAY_OUT, d);
            ReleaseSysCache(tup);
            return s;
        });
        out = pg::call([&] { return lappend(lappend_oid(out, relid), acl); });
    }
    return out;
}

void sync_changed_acls(List *before) {
    std::map<Oid, std::string> old_acl;
    for (int i = 0; i + 1 < list_length(before); i += 2)
        old_acl[list_nth_oid(before, i)] = static_cast<char *>(list_nth(before, i + 1));
    pg::call([] { CommandCounterIncrement(); });
    List *after = capture_distributed_acls();
    std::map<int, std::string> sql_by_node;
    pg::SpiSession spi;
    for (int i = 0; i + 1 < list_length(after); i += 2) {
        Oid relid = list_nth_oid(after, i);
        std::string now = static_cast<char *>(list_nth(after, i + 1));
        auto it = old_acl.find(relid);
        if (it == old_acl.end() || it->second == now) continue;
        const metadata::DistTable &t = metadata::get(relid);
        // Whoever held privileges before must lose what they no longer have.
        std::set<std::string> previous;
        if (!it->second.empty()) {  // empty: the default ACL, the owner's alone
        auto rows = spi.query(
            "SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END "
            "FROM aclexplode($1::aclitem[]) a LEFT JOIN pg_roles r ON r.oid = a.grantee",
            {{TEXTOID, it->second}});
        for (auto &r : rows)
            if (r[0]) previous.insert(*r[0]);
        }
        std::string owner = pg::call([&] {
            HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
            if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for relation %u", relid);
            Oid o = ((Form_pg_class)GETSTRUCT(tup))->relowner;
            ReleaseSysCache(tup);
            return quote_identifier(GetUserNameFromId(o, false));
        });
        previous.erase(owner);
        std::vector<AclEntry> entries = acl_entries(spi, relid);
        for (const metadata::ShardInfo &s : t.shards) sql_by_node[s.nodeid] += acl_sql(entries, previous, s.name);
    }
    if (!sql_by_node.empty()) exec::execute_per_node(sql_by_node, true);
}

}  // namespace rollup::commands
